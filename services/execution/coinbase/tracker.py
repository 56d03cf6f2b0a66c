"""Keeps each placed order in step with the venue: acceptance, fills and status, reported once.

Both the placer and the fill poller funnel through here, under a per-order lock, so whichever learns
of an acceptance or a fill first reports it and the other finds nothing left to say. Fills are taken
from REST (the authoritative record) and de-duplicated by trade id in the order's record.

The venue may report an order done (FILLED, or CANCELLED after a partial fill) before it lists all of
its fills. Such an order is held open, and its fills re-read every `late_fill_recheck_s`, until the
listed fills add up to the venue's filled size or `late_fill_wait_s` passes; then its final status
goes out with the fills seen and reconciliation settles the rest. A fill that turns up for an order
already reported done is still published: being done never drops a fill.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import structlog

from services.execution.adapter import ReportSink, make_event
from services.execution.coinbase import constants as c
from services.execution.coinbase import parse
from services.execution.coinbase.http import CoinbaseHttp
from services.execution.coinbase.state import LiveOrderRecord, OrderStore
from shared.coinbase.schemas import GetOrderResponse, ListFillsResponse, RestFill, UserOrder
from shared.errors import VenueError
from shared.messages import Order, OrderStatus
from shared.money import ZERO

_log = structlog.get_logger("execution.coinbase")


class OrderTracker:
    """Acceptance, fills and status of our venue orders, published through the sink."""

    def __init__(
        self,
        http: CoinbaseHttp,
        store: OrderStore,
        sink: ReportSink,
        page_size: int,
        clock: Callable[[], int],
        *,
        late_fill_wait_s: float = 300.0,
    ) -> None:
        self.http = http
        self.store = store
        self.sink = sink
        self._page_size = page_size
        self._clock = clock
        self._late_wait_ns = int(late_fill_wait_s * 1e9)
        self._late: dict[str, int] = {}  # done at the venue, fills not all listed: coid -> give-up time
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._pending: set[str] = set()
        self._wake = asyncio.Event()

    async def report(self, record: LiveOrderRecord, status: OrderStatus, reason: str = "") -> None:
        """Publish the order's state through the sink (awaited: recorded before we move on)."""
        await self.sink.order_event(
            make_event(
                record.order,
                status,
                self._clock(),
                venue_order_id=record.venue_order_id,
                # An acceptance is always reported as it first was (no fills), so a re-report
                # carries the same msg id and is de-duplicated.
                filled_size=record.filled_size if status is not OrderStatus.ACCEPTED else Decimal(0),
                average_price=record.average_price if status is not OrderStatus.ACCEPTED else None,
                reason=reason,
            )
        )

    # ---- placement ----
    async def mark_accepted(self, order: Order, venue_order_id: str) -> None:
        """Record and report acceptance once, whoever learns of it first (placer or fill poller)."""
        async with self._locks[order.client_order_id]:
            current = self.store.get(order.client_order_id)
            if (
                current is not None
                and current.venue_order_id == venue_order_id
                and current.status is not None
            ):
                return
            record = LiveOrderRecord(order=order, venue_order_id=venue_order_id, status=OrderStatus.ACCEPTED)
            await self.report(record, OrderStatus.ACCEPTED)
            await self.store.put(record)  # after the report: a lost report is retried, never skipped

    async def sync(
        self, client_order_id: str, *, fills: list[RestFill] | None = None, force: bool = False
    ) -> LiveOrderRecord:
        """Bring one order up to date with the venue: publish new fills, then its status if changed."""
        async with self._locks[client_order_id]:
            record = self.store.get(client_order_id)
            assert record is not None, "sync needs a tracked order"
            assert record.venue_order_id, "sync needs a placed order"
            raw = (await self.http.read(c.order_path(record.venue_order_id), GetOrderResponse)).order
            if not parse.matches(raw, record.order):
                _log.error(
                    "venue_order_mismatch", client_order_id=client_order_id, venue_order_id=raw.order_id
                )
                record = LiveOrderRecord(
                    order=record.order, venue_order_id=record.venue_order_id, status=OrderStatus.UNKNOWN
                )
                await self.report(
                    record, OrderStatus.UNKNOWN, "venue order does not match the approved order"
                )
                return await self.store.put(record)
            venue_filled = parse.dec(raw.filled_size, "filled_size")
            if fills is None and venue_filled > record.filled_size:
                fills = await self._order_fills(record.venue_order_id)
            changed = False
            # Pages list newest first: reverse, then a stable sort keeps same-instant fills in venue order.
            for raw_fill in sorted(reversed(fills or []), key=lambda f: parse.rfc3339_ns(f.trade_time)):
                if raw_fill.trade_id in record.trade_ids:
                    continue
                fill = parse.to_fill(raw_fill, record.order)
                await self.sink.fill(fill)
                record = LiveOrderRecord(
                    order=record.order,
                    venue_order_id=record.venue_order_id,
                    status=record.status,
                    filled_size=record.filled_size + fill.size,
                    filled_value=record.filled_value + fill.size * fill.price,
                    trade_ids=(*record.trade_ids, fill.trade_id),
                )
                changed = True
            status = parse.order_status(raw, record.filled_size)
            # FILLED means the whole order, whatever a lagging filled_size says.
            expected = max(venue_filled, record.order.size) if status is OrderStatus.FILLED else venue_filled
            if status.is_terminal and self._awaits_fills(record, expected):
                # Done at the venue, but the fill list lags the order: stay open until it catches up.
                status = OrderStatus.PARTIALLY_FILLED if record.filled_size > ZERO else OrderStatus.ACCEPTED
            reason = raw.cancel_message if status is OrderStatus.CANCELLED else raw.reject_message
            if changed or status is not record.status or force:
                # Report first, persist second: if the report is lost, the next sync finds the
                # same difference and reports again (the bus de-duplicates by msg id).
                record = msgspec.structs.replace(record, status=status, reason=reason)
                await self.report(record, status, reason)
                await self.store.put(record)
            return record

    def _awaits_fills(self, record: LiveOrderRecord, venue_filled: Decimal) -> bool:
        """True while an order the venue reports done lists fewer fills than `venue_filled` and the
        wait has not run out (an order already reported done is never reopened)."""
        coid = record.order.client_order_id
        if record.filled_size >= venue_filled or (record.status is not None and record.status.is_terminal):
            self._late.pop(coid, None)
            return False
        now = self._clock()
        give_up = self._late.setdefault(coid, now + self._late_wait_ns)
        if now < give_up:
            return True
        del self._late[coid]
        _log.error(
            "late_fills_missing",
            client_order_id=coid,
            venue_order_id=record.venue_order_id,
            venue_filled=str(venue_filled),
            booked=str(record.filled_size),
        )
        return False

    @property
    def awaiting_fills(self) -> frozenset[str]:
        """Orders done at the venue whose fills are not all listed yet (re-read until they are)."""
        return frozenset(self._late)

    async def run_late_fill_checks(self, every_s: float) -> None:
        """Every `every_s`, re-read the orders still waiting for fills the venue has not listed."""
        while True:
            await asyncio.sleep(every_s)
            for coid in list(self._late):
                try:
                    await self.sync(coid)
                except VenueError as exc:
                    _log.warning("late_fill_check_failed", client_order_id=coid, error=str(exc))

    async def _order_fills(self, venue_order_id: str) -> list[RestFill]:
        out: list[RestFill] = []
        params: dict[str, Any] = {"order_ids": [venue_order_id], "limit": self._page_size}
        while True:
            page = await self.http.read(c.FILLS, ListFillsResponse, params=params)
            out.extend(page.fills)
            if not page.cursor or not page.fills:
                return out
            params["cursor"] = page.cursor

    async def on_fills(self, fills: list[RestFill]) -> None:
        """Fills from the poller: attribute each to our order (by venue id), then sync that order."""
        by_order: dict[str, list[RestFill]] = defaultdict(list)
        for fill in fills:
            by_order[fill.order_id].append(fill)
        for venue_order_id, group in by_order.items():
            coid = self.store.coid_for(venue_order_id)
            if coid is None:
                raw = (await self.http.read(c.order_path(venue_order_id), GetOrderResponse)).order
                record = await self.store.fetch(raw.client_order_id) if raw.client_order_id else None
                if record is None:
                    _log.warning("untracked_fill", venue_order_id=venue_order_id, trades=len(group))
                    continue
                coid = record.order.client_order_id
                if not record.venue_order_id:
                    await self.mark_accepted(record.order, venue_order_id)
            await self.sync(coid, fills=group)

    # ---- cancels ----

    # ---- user-channel triggers ----
    async def on_user(self, orders: list[UserOrder], snapshot_done: bool) -> None:
        """WS `user` changes: queue a REST sync of each tracked order whose state moved on."""
        for raw in orders:
            coid = (
                raw.client_order_id
                if self.store.get(raw.client_order_id)
                else self.store.coid_for(raw.order_id)
            )
            record = self.store.get(coid) if coid else None
            if record is None:
                continue
            if not record.venue_order_id:
                await self.mark_accepted(record.order, raw.order_id)  # the placer's answer was lost
            moved = parse.dec(raw.cumulative_quantity, "cumulative_quantity") != record.filled_size
            if moved or raw.status.upper() not in ("OPEN", "PENDING") or not record.is_open:
                self._pending.add(record.order.client_order_id)
        if snapshot_done:  # after a (re)connect anything may have happened: check every open order
            self._pending.update(r.order.client_order_id for r in self.store.open_records())
        if self._pending:
            self._wake.set()

    async def run_syncs(self, open_orders_every_s: float) -> None:
        """Drain queued syncs (never on the WS reader's time); every `open_orders_every_s` without
        a trigger, re-read every open order anyway (REST is the record, WS only a hint)."""
        while True:
            try:
                async with asyncio.timeout(open_orders_every_s):
                    await self._wake.wait()
            except TimeoutError:
                self._pending.update(r.order.client_order_id for r in self.store.open_records())
            self._wake.clear()
            while self._pending:
                coid = self._pending.pop()
                try:
                    await self.sync(coid)
                except VenueError as exc:
                    _log.warning("triggered_sync_failed", client_order_id=coid, error=str(exc))
