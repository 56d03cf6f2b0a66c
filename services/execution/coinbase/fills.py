"""REST fills polling: the authoritative fill record, resumable through a cursor in KV.

The cursor is a high-water mark — the newest `sequence_timestamp` handled plus the trade ids seen at
exactly that instant — so a restart misses nothing. The venue may list a fill late, stamped with its
original (older) time, so every poll also re-reads an overlap window behind the mark and skips the
trade ids it already handled (a bounded set here; the order records and the bus de-duplicate by trade
id too). Pages come newest first; paging stops once it passes the window. `is_new`, `in_window` and
`advance` are pure and unit-tested.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
import structlog

from services.execution.coinbase import constants as c
from services.execution.coinbase.config import LiveSettings
from services.execution.coinbase.http import CoinbaseHttp
from shared.bus import TypedKV
from shared.coinbase.parse import rfc3339_ns, to_rfc3339
from shared.coinbase.schemas import ListFillsResponse, RestFill
from shared.errors import VenueError

_log = structlog.get_logger("execution.coinbase.fills")
FillsHandler = Callable[[list[RestFill]], Awaitable[None]]


class FillsCursor(msgspec.Struct, frozen=True, kw_only=True):
    """Newest fill instant handled, and the trade ids handled at that instant."""

    sequence_ns: int
    trade_ids: tuple[str, ...] = ()


def sequence_ns(fill: RestFill) -> int:
    """When the venue sequenced a fill (falls back to the trade time)."""
    return rfc3339_ns(fill.sequence_timestamp) or rfc3339_ns(fill.trade_time)


def is_new(cursor: FillsCursor, fill: RestFill) -> bool:
    """True for a fill after the mark, or at the mark but not yet handled."""
    at = sequence_ns(fill)
    return at > cursor.sequence_ns or (at == cursor.sequence_ns and fill.trade_id not in cursor.trade_ids)


def in_window(cursor: FillsCursor, fill: RestFill, overlap_ns: int) -> bool:
    """True for a new fill, or one sequenced at most `overlap_ns` before the mark (possibly late)."""
    return is_new(cursor, fill) or sequence_ns(fill) >= cursor.sequence_ns - overlap_ns


class SeenTrades:
    """The trade ids handled most recently, at most `limit` (the oldest are forgotten first)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, trade_ids: Iterable[str]) -> None:
        """Remember these ids (as the newest)."""
        for trade_id in trade_ids:
            self._ids[trade_id] = None
            self._ids.move_to_end(trade_id)
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)


def advance(cursor: FillsCursor, handled: list[RestFill]) -> FillsCursor:
    """The mark after `handled` were processed."""
    if not handled:
        return cursor
    newest = max(sequence_ns(f) for f in handled)
    if newest < cursor.sequence_ns:
        return cursor
    at_newest = tuple(f.trade_id for f in handled if sequence_ns(f) == newest)
    if newest == cursor.sequence_ns:
        return FillsCursor(sequence_ns=newest, trade_ids=tuple(dict.fromkeys(cursor.trade_ids + at_newest)))
    return FillsCursor(sequence_ns=newest, trade_ids=at_newest)


class FillPoller:
    """Polls fills since the cursor (less the overlap window), hands those not handled yet (oldest
    first) to the adapter, then saves the cursor."""

    def __init__(
        self,
        http: CoinbaseHttp,
        kv: TypedKV[FillsCursor],
        venue: str,
        settings: LiveSettings,
        handler: FillsHandler,
    ) -> None:
        self._http = http
        self._kv = kv
        self._key = f"{venue}.fills-cursor"
        self._settings = settings
        self._handler = handler
        self._overlap_ns = int(settings.fills_overlap_s * 1e9)
        self.cursor = FillsCursor(sequence_ns=0)
        self.seen = SeenTrades(settings.fills_seen_max)
        self.polls = 0

    async def load(self) -> FillsCursor:
        """The cursor from KV, or a mark `fills_initial_lookback_s` ago on the very first start."""
        entry = await self._kv.get(self._key)
        if entry is not None:
            self.cursor = entry.value
        else:
            lookback_ns = int(self._settings.fills_initial_lookback_s * 1e9)
            self.cursor = FillsCursor(sequence_ns=time.time_ns() - lookback_ns)
        self.seen.add(self.cursor.trade_ids)
        return self.cursor

    def _wanted(self, fill: RestFill) -> bool:
        return fill.trade_id not in self.seen and in_window(self.cursor, fill, self._overlap_ns)

    async def poll_once(self) -> int:
        """One pass: fetch pages back to the window's start, handle what was not handled yet;
        returns how many fills were handed on."""
        floor_ns = max(self.cursor.sequence_ns - self._overlap_ns, 0)
        new: list[RestFill] = []
        page_cursor = ""
        while True:
            params: dict[str, Any] = {
                "limit": self._settings.fills_page_size,
                "start_sequence_timestamp": to_rfc3339(floor_ns),
            }
            if page_cursor:
                params["cursor"] = page_cursor
            page = await self._http.read(c.FILLS, ListFillsResponse, params=params)
            new.extend(f for f in page.fills if self._wanted(f))
            passed_window = any(sequence_ns(f) < floor_ns for f in page.fills)
            if passed_window or not page.cursor or not page.fills:
                break
            page_cursor = page.cursor
        self.polls += 1
        if not new:
            return 0
        unique = list({f.trade_id: f for f in reversed(new)}.values())  # pages come newest first
        unique.sort(key=sequence_ns)
        behind = [f.trade_id for f in unique if not is_new(self.cursor, f)]
        if behind:  # listed late by the venue, or re-read after a restart (records skip known ones)
            _log.info("fills_behind_mark", trades=behind)
        await self._handler(unique)
        self.seen.add(f.trade_id for f in unique)
        cursor = advance(self.cursor, unique)
        if cursor != self.cursor:
            await self._kv.put(self._key, cursor)  # stored first: the in-memory mark never runs ahead
            self.cursor = cursor
        return len(unique)

    async def run(self) -> None:
        """Poll forever; a failed pass is logged and retried at the next interval."""
        while True:
            try:
                await self.poll_once()
            except VenueError as exc:
                _log.warning("fills_poll_failed", error=str(exc), error_type=type(exc).__name__)
            except Exception as exc:  # a bug in one pass must not stop fill reporting for good
                _log.exception("fills_poll_error", error=str(exc))
            await asyncio.sleep(self._settings.fills_poll_interval_s)
