"""The paper adapter: the simulator's venue core, fed with live market data from the bus.

`md.book` levels become the liquidity of a `shared.venue.Venue` (or `md.ticker` top of book while a
product has no book); market orders walk it, limit orders take what crosses and rest; a new book
that crosses a resting order, or a public trade through it, fills it as maker. Holds, fees and
Coinbase's reject reasons come from the same core the exchange simulator uses.
Until a product's first book or ticker has arrived since start, an order for it waits (up to
`market_wait_s`) and is then nak'd for redelivery, never rejected; meanwhile `/ready` is false.
One paper venue per account: run a single replica in paper mode (its book lives in memory).

Two ids: `venue` (`coinbase-paper`) is the venue served (orders, records, fills, products, fees),
`market` (`coinbase`) the one whose market data (`md.*.coinbase.*`) prices the fills.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import msgspec
import structlog

from services.execution.adapter import ReportSink, make_event
from services.execution.coinbase import constants as c
from services.execution.config import PaperSettings
from services.execution.errors import MarketDataPendingError
from services.execution.paper.convert import (
    fee_rates,
    fee_schedule,
    product_info,
    status_of,
    to_fill,
    to_request,
    widen,
)
from services.execution.paper.state import account_state, restore_account
from shared import routing, subjects
from shared.bus import Bus, Subscription, TypedKV
from shared.errors import OrderRejectedError
from shared.messages import (
    BookLevel,
    BookUpdate,
    CancelRequest,
    FeeRates,
    Fill,
    Order,
    OrderStatus,
    PaperAccountState,
    PaperOrderRecord,
    ProductInfo,
    Ticker,
    Trade,
    paper_account_key,
    paper_order_prefix,
)
from shared.quotes import usable
from shared.venue import OrderRequest, Product, Venue, book_fill, default_products

_log = structlog.get_logger("execution.paper")
Job = tuple[Awaitable[Any], dict[Any, Any] | None, Any]
"""A pending write: the awaitable, the pending set it leaves on success (None: the account), its key."""


class PaperAdapter:
    """`ExecutionAdapter` over an in-memory `Venue`; state survives restarts through KV."""

    def __init__(
        self,
        venue: str,
        settings: PaperSettings,
        bus: Bus,
        *,
        market: str | None = None,
        products: list[Product] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.venue = venue
        self.market = market if market is not None else routing.market_of(venue)
        self.settings = settings
        self._bus = bus
        self._clock = clock
        # A fresh seed per process: the venue core draws order and trade ids from it, and ids a
        # previous process already used (stored in KV and on the bus) must never come again.
        self.engine = Venue(
            products or default_products(clock()),
            fees=fee_schedule(settings),
            duplicate_mode="reject",
            seed=secrets.randbits(64),
        )
        self._lock = asyncio.Lock()
        self._sink: ReportSink | None = None
        self._records: dict[str, PaperOrderRecord] = {}
        self._internal: dict[str, str] = {}
        self._book_seen: set[str] = set()
        self._market_seen: dict[str, asyncio.Event] = {}
        self._market_pending: set[str] = set()
        self._latest: dict[str, tuple[Product, tuple[BookLevel, ...], tuple[BookLevel, ...]]] = {}
        self._resting: dict[str, set[str]] = {}  # product → client order ids resting on it
        self._slippage = Decimal(str(settings.slippage_bps))
        self._orders_kv: TypedKV[PaperOrderRecord] | None = None
        self._account_kv: TypedKV[PaperAccountState] | None = None
        self._account_key = paper_account_key(venue, settings.account_id)
        self._order_prefix = paper_order_prefix(venue, settings.account_id)
        self._subscriptions: list[Subscription] = []
        # What a failed write (NATS down) left pending, kept in order and retried until written:
        # order records, then the account, fills and order events (`_persist`).
        self._unsaved: dict[str, None] = {}
        self._account_unsaved = False
        self._fill_no = 0  # the number of the latest fill (the in-memory account reflects them all)
        self._unsent_fills: dict[str, Fill] = {}
        self._unsent_reports: dict[tuple[str, bool], None] = {}  # (client order id, as ACCEPTED)
        self._retry: asyncio.Task[None] | None = None
        self.submissions = 0
        self.book_updates = 0

    @property
    def account(self) -> str:
        """The simulated account's id inside the venue core."""
        return self.settings.account_id

    def market_ready(self) -> bool:
        """False while an order waits for (or was nak'd for lack of) a product's first market data."""
        return not self._market_pending

    # ---- lifecycle ----
    async def start(self, sink: ReportSink) -> None:
        """Restore the account and open orders from KV, then follow market data."""
        self._sink = sink
        self._orders_kv = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperOrderRecord)
        self._account_kv = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperAccountState)
        await self._restore()
        venue, depth = self.market, 64
        self._subscriptions = [
            await self._bus.subscribe(
                subjects.book(venue, subjects.ANY), BookUpdate, self._on_book, traced=False, max_pending=depth
            ),
            await self._bus.subscribe(
                subjects.ticker(venue, subjects.ANY), Ticker, self._on_ticker, traced=False, conflate=True
            ),
            await self._bus.subscribe(
                subjects.trade(venue, subjects.ANY), Trade, self._on_trade, traced=False, max_pending=depth
            ),
        ]

    async def stop(self) -> None:
        """Stop following market data, then write anything a NATS outage left pending."""
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions = []
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self.pending:
            async with self._lock:
                await self._persist()

    @property
    def pending(self) -> int:
        """Writes and publishes a failure left to retry (0 when everything is out)."""
        unsaved = len(self._unsaved) + self._account_unsaved
        return unsaved + len(self._unsent_fills) + len(self._unsent_reports)

    async def products(self) -> list[ProductInfo]:
        """The venue core's catalogue (the simulator's products)."""
        return [product_info(self.venue, p) for p in self.engine.products.values()]

    async def fee_rates(self) -> FeeRates:
        """The paper account's tier: the fee schedule the venue core charges."""
        return fee_rates(self.venue, self.engine.fees, self._clock())

    async def _restore(self) -> None:
        assert self._account_kv is not None
        assert self._orders_kv is not None
        account = self.engine.account(self.account)
        entry = await self._account_kv.get(self._account_key)
        if entry is not None:
            quote_of = {pid: p.quote_currency for pid, p in self.engine.products.items()}
            restore_account(entry.value, account, quote_of)
        else:
            for currency, amount in self.settings.initial_balances.items():
                account.set_balance(currency, Decimal(amount))
            self._account_unsaved = True
            await self._persist()
        keys = [key for key in await self._orders_kv.keys() if key.startswith(self._order_prefix)]
        for stored in await self._orders_kv.get_many(keys):
            if stored is not None:
                self._remember(stored.value)
        self._book_missing_fills(entry.value.fills_booked if entry is not None else 0)
        for record in [r for r in self._records.values() if r.is_open]:
            await self._reopen(record)
        if self._account_unsaved:
            await self._persist()

    def _book_missing_fills(self, booked: int) -> None:
        """Book the fills the stored account does not reflect yet (the previous process died
        between writing their records and the account), in the order they happened."""
        account = self.engine.account(self.account)
        numbered = [item for record in self._records.values() for item in record.numbered_fills]
        missing = sorted((item for item in numbered if item[0] > booked), key=lambda item: item[0])
        for _, fill in missing:
            product = self.engine.products[fill.product_id]
            book_fill(account, product, fill.side, fill.size, fill.price, fill.fee)
        self._fill_no = max([booked, *(no for no, _ in numbered)])
        if missing:
            self._account_unsaved = True
            _log.warning("paper_account_caught_up", fills=[f.trade_id for _, f in missing])

    async def _reopen(self, record: PaperOrderRecord) -> None:
        """Put a resting order back on the fresh book with its remaining size (holds follow)."""
        remaining = msgspec.structs.replace(record.order, size=record.order.size - record.filled_size)
        try:
            submitted = self.engine.submit(self._request(remaining), self._clock())
        except OrderRejectedError as exc:
            reason = getattr(exc, "reason", "RESTORE_FAILED")
            _log.warning(
                "paper_order_not_restored", client_order_id=record.order.client_order_id, reason=reason
            )
            await self._save(msgspec.structs.replace(record, status=OrderStatus.CANCELLED, reason=reason))
            return
        self._internal[record.order.client_order_id] = submitted.order.order_id

    # ---- persistence and reporting ----
    @property
    def sink(self) -> ReportSink:
        assert self._sink is not None, "adapter not started"
        return self._sink

    def _stage(self, record: PaperOrderRecord, *, report: bool = False, accepted: bool = False) -> None:
        """Record a new state of an order in memory; `_persist` writes it (and reports it)."""
        coid = record.order.client_order_id
        self._remember(record)
        self._unsaved[coid] = None
        if accepted:
            self._unsent_reports[(coid, True)] = None
        if report:
            self._unsent_reports[(coid, False)] = None

    def _remember(self, record: PaperOrderRecord) -> None:
        """The record in memory, and whether it rests on its product's book."""
        coid, pid = record.order.client_order_id, record.order.product_id
        self._records[coid] = record
        resting = self._resting.setdefault(pid, set())
        if record.is_open:
            resting.add(coid)
        else:
            resting.discard(coid)

    async def _save(self, record: PaperOrderRecord) -> None:
        self._stage(record)
        await self._persist()

    async def _persist(self) -> None:
        """Write what is pending: order records, then (only once they are stored: the venue's
        memory before what it tells, and the account never ahead of its records) the account, fills
        and order events together.
        Whatever fails stays pending, a task retries it, and the error propagates (an order being
        placed is nak'd; `resume` re-reports it on redelivery)."""
        orders, accounts = self._orders_kv, self._account_kv
        assert orders is not None
        assert accounts is not None
        try:
            writes: list[Job] = [
                (orders.put(self._order_prefix + coid, self._records[coid]), self._unsaved, coid)
                for coid in list(self._unsaved)
            ]
            await self._together(writes)
            tells: list[Job] = [
                (self.sink.fill(fill), self._unsent_fills, trade_id)
                for trade_id, fill in list(self._unsent_fills.items())
            ]
            for coid, accepted in list(self._unsent_reports):
                status = OrderStatus.ACCEPTED if accepted else None
                tells.append(
                    (self._report(self._records[coid], status), self._unsent_reports, (coid, accepted))
                )
            if self._account_unsaved and not self._unsaved:
                # Only after the records it reflects; sent last in the same round trip (the fills
                # are what everyone downstream waits for).
                account = account_state(self.engine.account(self.account), self._fill_no)
                self._account_unsaved = False  # a change while it is written sets it again
                tells.append((accounts.put(self._account_key, account), None, None))
            await self._together(tells)
        except Exception as exc:
            _log.warning("paper_persist_pending", pending=self.pending, error=repr(exc))
            if self._retry is None or self._retry.done():
                self._retry = asyncio.create_task(self._retry_pending(), name="paper-persist-retry")
            raise

    async def _together(self, jobs: list[Job]) -> None:
        """Await writes concurrently (one round trip, sent in order); each success leaves its
        pending set (None: the account, pending again if it failed), and the first failure is
        raised after all finished."""
        results = await asyncio.gather(*(job for job, _, _ in jobs), return_exceptions=True)
        failure: BaseException | None = None
        for (_, pending, key), result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                failure = failure or result
                if pending is None:
                    self._account_unsaved = True
            elif pending is not None:
                pending.pop(key, None)
        if failure is not None:
            raise failure

    async def _retry_pending(self) -> None:
        """Retry pending writes with backoff until everything is out (NATS is back)."""
        delay = 0.2
        while self.pending:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            async with self._lock:
                with contextlib.suppress(Exception):  # logged by `_persist`; try again later
                    await self._persist()
        _log.info("paper_persist_recovered")

    async def _report(self, record: PaperOrderRecord, status: OrderStatus | None = None) -> None:
        status = status or record.status
        accepted = status is OrderStatus.ACCEPTED  # re-reported exactly as first sent (same msg id)
        await self.sink.order_event(
            make_event(
                record.order,
                status,
                self._clock(),
                venue_order_id=record.venue_order_id,
                filled_size=Decimal(0) if accepted else record.filled_size,
                average_price=None if accepted else record.average_price,
                reason=record.reason,
            )
        )

    def _request(self, order: Order) -> OrderRequest:
        return to_request(order, self.account)

    # ---- placement ----
    async def place(self, order: Order) -> OrderStatus:
        """Match now (after the configured latency); every outcome is persisted, then reported."""
        if self.settings.latency_ms > 0:
            await asyncio.sleep(self.settings.latency_ms / 1000)
        await self._await_market(order)
        async with self._lock:
            self.submissions += 1
            try:
                if order.venue != self.venue:
                    raise OrderRejectedError(
                        c.WRONG_VENUE, f"order for {order.venue!r} reached {self.venue!r}"
                    )
                self._apply_latest(order.product_id)
                result = self.engine.submit(self._request(order), self._clock())
            except OrderRejectedError as exc:
                record = PaperOrderRecord(order=order, status=OrderStatus.REJECTED, reason=exc.reason)
                _log.info("paper_order_rejected", client_order_id=order.client_order_id, reason=exc.reason)
                self._stage(record, report=True)
                await self._persist()
                return OrderStatus.REJECTED
            venue_order_id = result.order.order_id
            self._internal[order.client_order_id] = venue_order_id
            # Nothing was told yet, so one write after matching is enough: a crash before it leaves
            # the order unacked and unrecorded, and its redelivery matches it afresh.
            self._stage(PaperOrderRecord(order=order, venue_order_id=venue_order_id), accepted=True)
            self._account_unsaved = True  # holds of a resting order
            await self._flush()
            return self._records[order.client_order_id].status

    def _market_event(self, product_id: str) -> asyncio.Event:
        return self._market_seen.setdefault(product_id, asyncio.Event())

    async def _await_market(self, order: Order) -> None:
        """Wait for the product's first book/ticker since start; raise (retryable) if none comes.

        Not seeing the market yet is our gap, not the venue's answer: the order is nak'd and
        redelivered, never rejected. Unknown products and other venues go on to their real reject.
        """
        product_id = order.product_id
        if order.venue != self.venue or product_id not in self.engine.products:
            return
        seen = self._market_event(product_id)
        if seen.is_set():
            return
        self._market_pending.add(product_id)
        try:
            await asyncio.wait_for(seen.wait(), timeout=self.settings.market_wait_s)
        except TimeoutError:
            _log.warning(
                "paper_no_market_data_yet",
                client_order_id=order.client_order_id,
                product_id=product_id,
                waited_s=self.settings.market_wait_s,
            )
            raise MarketDataPendingError(
                f"no market data for {product_id} since start (waited {self.settings.market_wait_s}s)"
            ) from None

    async def resume(self, order: Order, *, redelivered: bool) -> bool:
        """The paper venue's own records are the venue's memory: re-report, never re-match."""
        record = self._records.get(order.client_order_id)
        if record is None:
            return False
        if record.venue_order_id:
            await self._report(record, OrderStatus.ACCEPTED)
        for fill in record.fills:
            await self.sink.fill(fill)
        await self._report(record)
        return True

    async def _flush(self) -> None:
        """Turn what the venue core did into persisted records, then fills and status events."""
        events = self.engine.drain_events()
        touched: dict[str, PaperOrderRecord] = {}
        new_fills = []
        for vfill in events.fills:
            record = touched.get(vfill.client_order_id) or self._records.get(vfill.client_order_id)
            if record is None:
                continue
            fill = to_fill(vfill, record.order, record.venue_order_id)
            new_fills.append(fill)
            self._fill_no += 1
            touched[vfill.client_order_id] = msgspec.structs.replace(
                record, fills=(*record.fills, fill), fill_nos=(*record.fill_nos, self._fill_no)
            )
        for vorder in events.orders:
            coid = vorder.request.client_order_id
            record = touched.get(coid) or self._records.get(coid)
            if record is None or self._internal.get(coid) != vorder.order_id:
                continue
            status = status_of(vorder, record.filled_size)
            reason = vorder.cancel_message if status is OrderStatus.CANCELLED else ""
            touched[coid] = msgspec.structs.replace(record, status=status, reason=reason)
        for coid, record in touched.items():
            before = self._records.get(coid)
            changed = before is None or (before.status, before.filled_size) != (
                record.status,
                record.filled_size,
            )
            self._stage(record, report=changed)
        self._account_unsaved = self._account_unsaved or bool(touched)
        self._unsent_fills.update((fill.trade_id, fill) for fill in new_fills)
        if self.pending:
            await self._persist()

    # ---- market data ----
    async def _on_book(self, update: BookUpdate) -> None:
        product = self.engine.products.get(update.product_id)
        if product is None:
            return
        self._book_seen.add(update.product_id)
        await self._keep_latest(product, update.bids, update.asks)

    async def _on_ticker(self, ticker: Ticker) -> None:
        if not usable(ticker):
            return
        product = self.engine.products.get(ticker.product_id)
        if product is None or not self.settings.use_tickers or ticker.product_id in self._book_seen:
            return
        bids = (BookLevel(price=ticker.bid, size=ticker.bid_size),)
        asks = (BookLevel(price=ticker.ask, size=ticker.ask_size),)
        await self._keep_latest(product, bids, asks)

    async def _keep_latest(
        self, product: Product, bids: tuple[BookLevel, ...], asks: tuple[BookLevel, ...]
    ) -> None:
        """Keep the latest levels. They go into the venue core at once only while an order rests
        on the product (a moving market may fill it); otherwise when the next order for the product
        is matched. Rebuilding the book on every tick would cost more than the whole order path."""
        pid = product.product_id
        self._latest[pid] = (product, bids, asks)
        self.book_updates += 1
        self._market_event(pid).set()
        self._market_pending.discard(pid)
        if self._resting.get(pid):
            async with self._lock:
                self._apply_latest(pid)
                await self._flush()

    def _apply_latest(self, product_id: str) -> None:
        """Load the product's latest levels into the venue core (call with the lock held)."""
        latest = self._latest.pop(product_id, None)
        if latest is None:
            return
        product, bids, asks = latest
        inc = product.price_increment
        self.engine.set_liquidity(
            product_id,
            widen(bids, bids=True, slippage_bps=self._slippage, increment=inc),
            widen(asks, bids=False, slippage_bps=self._slippage, increment=inc),
            self._clock(),
        )

    async def _on_trade(self, trade: Trade) -> None:
        if (
            not self.settings.fill_on_trades
            or trade.product_id not in self.engine.products
            or trade.size <= 0
        ):
            return
        async with self._lock:
            self._apply_latest(trade.product_id)
            self.engine.take_liquidity(trade.product_id, trade.side, trade.size, trade.price, self._clock())
            await self._flush()

    # ---- cancels ----
    async def cancel(self, request: CancelRequest) -> None:
        """Cancel named orders, or every open one (of `strategy_id` when set)."""
        async with self._lock:
            if request.client_order_ids:
                targets = [self._records[c] for c in request.client_order_ids if c in self._records]
            else:
                targets = [
                    r
                    for r in self._records.values()
                    if not request.strategy_id or r.order.strategy_id == request.strategy_id
                ]
            for record in targets:
                internal = self._internal.get(record.order.client_order_id)
                if record.is_open and internal is not None:
                    refused = self.engine.cancel(internal, self._clock(), account_id=self.account)
                    if refused:
                        _log.info(
                            "paper_cancel_refused",
                            client_order_id=record.order.client_order_id,
                            reason=refused,
                        )
            await self._flush()
