"""Risk's own view of KV `strategy_specs`: which strategies exist, and where their orders must go.

A watch keeps the view current. An intent whose strategy the view does not route to the intent's
venue triggers a direct read of its key first, so a spec written just before its first intent is
never refused for the watch being a moment behind. Unreadable specs count as absent (fail closed:
such a strategy may only reduce what it holds).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import nats.js.errors
import structlog

from services.risk.book import RiskBook
from shared import codec, subjects
from shared.bus import Bus
from shared.messages.strategy import StrategySpec
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("risk")
_DELETES = ("DEL", "PURGE")


def _decode(key: str, raw: bytes | None) -> StrategySpec | None:
    if not raw:
        return None
    try:
        spec = codec.decode(raw, StrategySpec)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        _log.error("strategy_spec_invalid", key=key, error=str(exc))
        return None
    if spec.id != key:
        _log.error("strategy_spec_misfiled", key=key, spec_id=spec.id)
        return None
    return spec


class SpecWatch:
    """Feeds `RiskBook.set_spec` from a KV watch, and reads one spec on demand."""

    def __init__(self, bus: Bus, book: RiskBook) -> None:
        self._bus = bus
        self._book = book
        self._kv: Any = None
        self._watcher: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self, timeout_s: float) -> None:
        """Load every spec, then follow changes."""
        self._kv = await self._bus.kv_raw(subjects.KV_STRATEGY_SPECS)
        self._watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._follow(), name="risk-spec-watch")
        await asyncio.wait_for(self._ready.wait(), timeout_s)

    async def _follow(self) -> None:
        async for entry in self._watcher:
            if entry is None:  # the current values are in
                self._ready.set()
                continue
            deleted = entry.operation in _DELETES
            spec = None if deleted else _decode(entry.key, entry.value)
            self._book.set_spec(entry.key, spec, entry.revision)
            if entry.delta == 0:
                self._ready.set()

    async def refresh(self, strategy_id: str) -> None:
        """Read one strategy's spec directly (not a key KV accepts: nothing to read)."""
        if self._kv is None:
            return
        try:
            subjects.token(strategy_id)
            entry = await self._kv.get(strategy_id)
        except nats.js.errors.KeyNotFoundError:
            return  # absent (or deleted: the watch brings deletions)
        except Exception as exc:  # what the view holds stands: at worst only reductions pass
            _log.warning("strategy_spec_read_failed", strategy_id=strategy_id, error=str(exc))
            return
        self._book.set_spec(strategy_id, _decode(strategy_id, entry.value), int(entry.revision))

    async def stop(self) -> None:
        """Stop following."""
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        await cancel_and_wait([self._task])
