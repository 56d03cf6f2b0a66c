"""The paper adapter: the simulator's venue core, fed with live market data from the bus.

Market orders walk the liquidity of a `shared.venue.Venue` (`liquidity.py`: `md.book` levels, or
`md.ticker` top of book while a product has no book); limit orders take what crosses and rest; a new
book that crosses a resting order, or a public trade through it, fills it as maker. Holds, fees and
Coinbase's reject reasons come from the same core the exchange simulator uses. Every outcome becomes
an order record (`records.py`) that is written before anything is told (`outbox.py`).
One paper venue per account: run a single replica in paper mode (its book lives in memory).

Two ids: `venue` (`coinbase-paper`) is the venue served (orders, records, fills, products, fees),
`market` (`coinbase`) the one whose market data (`md.*.coinbase.*`) prices the fills.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Callable
from decimal import Decimal

import msgspec
import structlog

from services.execution.adapter import ReportSink
from services.execution.coinbase import constants as c
from services.execution.config import PaperSettings
from services.execution.paper.convert import paper_fees, to_request
from services.execution.paper.liquidity import Liquidity
from services.execution.paper.outbox import Outbox
from services.execution.paper.records import PaperRecords
from services.execution.paper.state import restore_account
from shared import routing, subjects
from shared.bus import Bus, Subscription
from shared.errors import OrderRejectedError
from shared.messages import (
    BookUpdate,
    CancelRequest,
    FeeRates,
    Order,
    OrderStatus,
    PaperAccountState,
    PaperOrderRecord,
    ProductInfo,
    Ticker,
    Trade,
    paper_account_key,
)
from shared.venue import Product, Venue, book_fill, default_products

_log = structlog.get_logger("execution.paper")


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
            fees=paper_fees(settings),
            duplicate_mode="reject",
            seed=secrets.randbits(64),
        )
        self._lock = asyncio.Lock()  # one change of the venue core (and its writes) at a time
        self.liquidity = Liquidity(self.engine, settings, clock)
        self.records = PaperRecords(venue, settings.account_id)
        account = functools.partial(self.engine.account, settings.account_id)
        account_key = paper_account_key(venue, settings.account_id)
        self.outbox = Outbox(self.records, account, account_key, self._lock, clock)
        self._subscriptions: list[Subscription] = []
        self.submissions = 0

    @property
    def account(self) -> str:
        """The simulated account's id inside the venue core."""
        return self.settings.account_id

    @property
    def book_updates(self) -> int:
        """Market data updates kept so far."""
        return self.liquidity.updates

    @property
    def pending(self) -> int:
        """Writes and publishes a failure left to retry (0 when everything is out)."""
        return self.outbox.pending

    def market_ready(self) -> bool:
        """False while an order waits for (or was nak'd for lack of) a product's first market data."""
        return self.liquidity.ready()

    # ---- lifecycle ----
    async def start(self, sink: ReportSink) -> None:
        """Restore the account and open orders from KV, then follow market data."""
        orders = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperOrderRecord)
        accounts = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperAccountState)
        self.outbox.open(sink, accounts)
        entry = await accounts.get(paper_account_key(self.venue, self.account))
        await self._restore(entry.value if entry is not None else None)
        await self.records.load(orders)
        await self._catch_up(entry.value.fills_booked if entry is not None else 0)
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
        await self.outbox.stop()

    async def products(self) -> list[ProductInfo]:
        """The venue core's catalogue (the simulator's products)."""
        return [p.info(self.venue) for p in self.engine.products.values()]

    async def fee_rates(self) -> FeeRates:
        """The paper account's tier: the rates the venue core charges, stamped with venue and time."""
        return msgspec.structs.replace(self.engine.fees, venue=self.venue, fetched_ns=self._clock())

    # ---- restart ----
    async def _restore(self, stored: PaperAccountState | None) -> None:
        """The stored account, or a new one with the configured balances (written at once)."""
        account = self.engine.account(self.account)
        if stored is not None:
            quote_of = {pid: p.quote_currency for pid, p in self.engine.products.items()}
            restore_account(stored, account, quote_of)
            return
        for currency, amount in self.settings.initial_balances.items():
            account.set_balance(currency, Decimal(amount))
        self.outbox.account_unsaved = True
        await self.outbox.persist()

    async def _catch_up(self, booked: int) -> None:
        """Book the fills the stored account does not reflect yet (the previous process died
        between writing their records and the account), in the order they happened; then put the
        open orders back on the fresh book."""
        account = self.engine.account(self.account)
        numbered = self.records.numbered_fills()
        missing = sorted((item for item in numbered if item[0] > booked), key=lambda item: item[0])
        for _, fill in missing:
            product = self.engine.products[fill.product_id]
            book_fill(account, product, fill.side, fill.size, fill.price, fill.fee)
        self.outbox.fill_no = max([booked, *(no for no, _ in numbered)])
        if missing:
            self.outbox.account_unsaved = True
            _log.warning("paper_account_caught_up", fills=[f.trade_id for _, f in missing])
        for record in [r for r in self.records.all() if r.is_open]:
            await self._reopen(record)
        if self.outbox.account_unsaved:
            await self.outbox.persist()

    async def _reopen(self, record: PaperOrderRecord) -> None:
        """Put a resting order back on the fresh book with its remaining size (holds follow)."""
        remaining = msgspec.structs.replace(record.order, size=record.order.size - record.filled_size)
        try:
            submitted = self.engine.submit(to_request(remaining, self.account), self._clock())
        except OrderRejectedError as exc:
            reason = getattr(exc, "reason", "RESTORE_FAILED")
            _log.warning(
                "paper_order_not_restored", client_order_id=record.order.client_order_id, reason=reason
            )
            await self.outbox.save(
                msgspec.structs.replace(record, status=OrderStatus.CANCELLED, reason=reason)
            )
            return
        self.records.bind(record.order.client_order_id, submitted.order.order_id)

    # ---- placement ----
    async def place(self, order: Order) -> OrderStatus:
        """Match now (after the configured latency); every outcome is persisted, then reported."""
        if self.settings.latency_ms > 0:
            await asyncio.sleep(self.settings.latency_ms / 1000)
        if order.venue == self.venue:  # other venues go on to their real reject
            await self.liquidity.wait_first(order)
        async with self._lock:
            self.submissions += 1
            try:
                if order.venue != self.venue:
                    raise OrderRejectedError(
                        c.WRONG_VENUE, f"order for {order.venue!r} reached {self.venue!r}"
                    )
                self.liquidity.apply(order.product_id)
                result = self.engine.submit(to_request(order, self.account), self._clock())
            except OrderRejectedError as exc:
                record = PaperOrderRecord(order=order, status=OrderStatus.REJECTED, reason=exc.reason)
                _log.info("paper_order_rejected", client_order_id=order.client_order_id, reason=exc.reason)
                self.outbox.stage(record, report=True)
                await self.outbox.persist()
                return OrderStatus.REJECTED
            venue_order_id = result.order.order_id
            self.records.bind(order.client_order_id, venue_order_id)
            # Nothing was told yet, so one write after matching is enough: a crash before it leaves
            # the order unacked and unrecorded, and its redelivery matches it afresh.
            self.outbox.stage(PaperOrderRecord(order=order, venue_order_id=venue_order_id), accepted=True)
            self.outbox.account_unsaved = True  # holds of a resting order
            await self._flush()
            return self.records[order.client_order_id].status

    async def resume(self, order: Order, *, redelivered: bool) -> bool:
        """The paper venue's own records are the venue's memory: re-report, never re-match."""
        record = self.records.get(order.client_order_id)
        if record is None:
            return False
        if record.venue_order_id:
            await self.outbox.report(record, OrderStatus.ACCEPTED)
        for fill in record.fills:
            await self.outbox.sink.fill(fill)
        await self.outbox.report(record)
        return True

    async def _flush(self) -> None:
        """Turn what the venue core did into staged records, fills and status events; write them."""
        touched, fills = self.records.changes(self.engine.drain_events(), self.outbox.next_fill_no)
        for record, changed in touched:
            self.outbox.stage(record, report=changed)
        self.outbox.account_unsaved = self.outbox.account_unsaved or bool(touched)
        self.outbox.stage_fills(fills)
        if self.outbox.pending:
            await self.outbox.persist()

    # ---- market data ----
    async def _on_book(self, update: BookUpdate) -> None:
        await self._market_moved(self.liquidity.on_book(update))

    async def _on_ticker(self, ticker: Ticker) -> None:
        await self._market_moved(self.liquidity.on_ticker(ticker))

    async def _market_moved(self, product_id: str | None) -> None:
        """New levels go into the venue core at once only while an order rests on the product."""
        if product_id is not None and self.records.resting_on(product_id):
            async with self._lock:
                self.liquidity.apply(product_id)
                await self._flush()

    async def _on_trade(self, trade: Trade) -> None:
        if (
            not self.settings.fill_on_trades
            or trade.product_id not in self.engine.products
            or trade.size <= 0
        ):
            return
        async with self._lock:
            self.liquidity.apply(trade.product_id)
            self.engine.take_liquidity(trade.product_id, trade.side, trade.size, trade.price, self._clock())
            await self._flush()

    # ---- cancels ----
    async def owner(self, client_order_id: str) -> str | None:
        """The strategy of the recorded order (the records are this venue's memory)."""
        record = self.records.get(client_order_id)
        return record.order.strategy_id if record is not None else None

    async def cancel(self, request: CancelRequest) -> None:
        """Cancel named orders, or every open one (of `strategy_id` when set)."""
        async with self._lock:
            if request.client_order_ids:
                targets = [r for r in map(self.records.get, request.client_order_ids) if r is not None]
            else:
                targets = [
                    r
                    for r in self.records.all()
                    if not request.strategy_id or r.order.strategy_id == request.strategy_id
                ]
            for record in targets:
                internal = self.records.core_id(record.order.client_order_id)
                if record.is_open and internal is not None:
                    refused = self.engine.cancel(internal, self._clock(), account_id=self.account)
                    if refused:
                        _log.info(
                            "paper_cancel_refused",
                            client_order_id=record.order.client_order_id,
                            reason=refused,
                        )
            await self._flush()
