"""The epoch fence: an approval made before the newest halt execution has seen is never placed.

Risk bumps `RiskState.epoch` on every halt (never lowering it), stores it before its cancels go out,
and stamps each approval with the epoch it was made in. Execution keeps `floor`, the newest epoch it
knows of: read from KV `risk_state` before any order is consumed, kept current by a watch of that key,
raised by a halt's cancel-all (which carries the new epoch) before its cancels run, and read again
(`refresh`, one KV round trip) right before each placement. That last read is what makes the fence
hold for an order already delivered to a process that was frozen or slow when the halt came: the
watch update queues behind the order, the read does not. The floor only ever rises.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import structlog

from services.execution import metrics
from shared import codec, subjects
from shared.bus import Bus, TypedKV
from shared.messages import RiskState
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("execution.fence")
RISK_STATE_KEY = "state"
"""The key risk writes its `RiskState` under in KV `risk_state` (repeated here: services do not
import one another)."""
_DELETES = ("DEL", "PURGE")


class EpochFence:
    """The newest risk epoch seen, from KV `risk_state` and from halts' cancel requests."""

    def __init__(self) -> None:
        self.floor = 0
        self._kv: TypedKV[RiskState] | None = None
        self._watcher: Any = None
        self._task: asyncio.Task[None] | None = None

    def raise_to(self, epoch: int, source: str) -> bool:
        """Raise the floor to `epoch` if it is newer; True when it rose."""
        if epoch <= self.floor:
            return False
        _log.warning("epoch_floor_raised", epoch=epoch, previous=self.floor, source=source)
        self.floor = epoch
        metrics.EPOCH_FLOOR.set(epoch)
        return True

    async def start(self, bus: Bus) -> None:
        """Watch the risk state, then read it: no update can fall between the read and the watch."""
        kv = await bus.kv_raw(subjects.KV_RISK_STATE)
        self._watcher = await kv.watch(RISK_STATE_KEY)
        self._task = asyncio.create_task(self._follow(), name="execution-epoch-watch")
        self._kv = await bus.kv(subjects.KV_RISK_STATE, RiskState)
        await self.refresh()
        _log.info("epoch_floor", epoch=self.floor)

    async def refresh(self) -> int:
        """Read the stored risk state now and return the floor. A failed read raises: the order in
        hand is then redelivered later rather than placed unchecked (fail closed)."""
        assert self._kv is not None, "fence not started"
        stored = await self._kv.get(RISK_STATE_KEY)
        if stored is not None:
            self.raise_to(stored.value.epoch, "risk_state")
        return self.floor

    async def _follow(self) -> None:
        """Apply each new risk state. Should the watch die, halts' cancel requests still raise the
        floor: say so loudly rather than crash the service."""
        try:
            async for entry in self._watcher:
                if entry is None or entry.operation in _DELETES or entry.value is None:
                    continue
                try:
                    state = codec.decode(entry.value, RiskState)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    _log.error("risk_state_undecodable", revision=entry.revision, error=str(exc))
                    continue
                self.raise_to(state.epoch, "risk_state_watch")
        except Exception as exc:
            _log.error("risk_state_watch_failed", error=repr(exc))

    async def stop(self) -> None:
        """Stop following the risk state."""
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        await cancel_and_wait([self._task])
