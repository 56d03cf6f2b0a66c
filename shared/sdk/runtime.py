"""The runner of one SDK strategy: the same pure code behind a live instance and a backtest.

A `Runner` holds the user's `Strategy` and the framework's book (`Ledger`: positions from fills,
orders and their states, the order sequence, recent trade ids, exits, bars being built). Market
data and execution feedback come in as method calls with the time (int ns); each call returns
`Effects`: order requests, cancels by client order id, the strategy's signal, log lines. No NATS,
no asyncio, no clock: the live engine (`services/strategy/sdk_engine.py`) and the backtest
(`shared/backtest/sdk.py`) drive it.

A strategy method that raises is not contained here: the exception propagates to the live
instance's supervisor (shown in status) or to the backtest (reported); a live instance restarts
from its last snapshot, book included.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from shared.messages.base import Side
from shared.messages.orders import Liquidity, OrderStatus
from shared.messages.products import ProductInfo
from shared.sdk.api import Bar, Book, FillView, OrderState, PublicTrade, Strategy, Tick
from shared.sdk.bars import NS, fold_tick, price_of
from shared.sdk.book import Ledger, SdkBook, SdkOrder, SdkSnapshot, copy_book
from shared.sdk.context import EXIT_TAGS, Effects, LogLine, Pending, RunnerContext
from shared.sdk.state import StateError, dump_state, fingerprint, load_state
from shared.strategies.types import CostModel

DEFAULT_TIMEOUT_NS = 30 * NS
__all__ = ["Effects", "LogLine", "Runner"]

_STATES = {
    OrderStatus.ACCEPTED: OrderState.OPEN,
    OrderStatus.PARTIALLY_FILLED: OrderState.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrderState.FILLED,
    OrderStatus.CANCELLED: OrderState.CANCELLED,
    OrderStatus.EXPIRED: OrderState.EXPIRED,
    OrderStatus.REJECTED: OrderState.REJECTED,
}


class Runner:
    """One strategy instance's framework side (see the module doc). `restored_warm`: the
    strategy's state was restored from the snapshot (else it is fresh and needs its warm-up)."""

    def __init__(
        self,
        strategy_id: str,
        strategy: Strategy[Any],
        infos: dict[str, ProductInfo],
        costs: CostModel,
        execution_timeout_ns: int = DEFAULT_TIMEOUT_NS,
        snapshot: SdkSnapshot | None = None,
    ) -> None:
        self.sid = strategy_id
        self.strategy = strategy
        self.products = tuple(strategy.products())
        missing = [p for p in self.products if p not in infos]
        if missing:
            raise ValueError(f"no trading rules for {', '.join(missing)}")
        self.infos = {p: infos[p] for p in self.products}
        self.data = strategy.data()
        self._ticks, self._bars_s = self.data.ticks, self.data.bars_s
        self.costs = costs
        self.timeout_ns = execution_timeout_ns
        self.fingerprint = fingerprint(type(strategy), strategy.params)
        book = copy_book(snapshot.book) if snapshot is not None else SdkBook()
        self.ledger = Ledger(strategy_id, self.products, book)
        self.book = book
        self.prices: dict[str, Decimal] = {}
        self.now = 0
        self.warming = False
        self.out = Pending()
        self.ctx = RunnerContext(self)
        self._queue: list[Tick | Bar | Book | PublicTrade] = []
        self.restored_warm = self._restore(snapshot)

    def _restore(self, snapshot: SdkSnapshot | None) -> bool:
        if snapshot is None or not snapshot.state or snapshot.fingerprint != self.fingerprint:
            return False
        try:
            load_state(self.strategy, snapshot.state)
        except StateError:
            return False
        return True

    # ---- views ----
    @property
    def state(self) -> str:
        """flat, in_position, entering, exiting, reconciling or halted."""
        return self.ledger.state

    @property
    def positions(self) -> tuple[tuple[str, Decimal], ...]:
        """Signed position per product, from fills."""
        return tuple((p, self.book.positions[p]) for p in self.products)

    def seq_of(self, coid: str) -> int | None:
        """The sequence behind one of our client order ids (None: not ours, or long gone)."""
        order = self.ledger.get(coid)
        return order.seq if order is not None else None

    def refusal(self) -> str:
        """Why new orders are refused now ('' when they are not)."""
        if self.warming:
            return "warming_up"
        if self.book.halted:
            return f"halted:{self.book.halted}"
        if self.book.reconciling:
            return f"reconciling:{self.book.reconciling}"
        return ""

    def snapshot(self) -> SdkSnapshot:
        """The book (a copy) and the strategy's pickled attributes under their fingerprint."""
        state = dump_state(self.strategy)
        return SdkSnapshot(book=copy_book(self.book), state=state, fingerprint=self.fingerprint)

    # ---- life cycle ----
    def start(self, now_ns: int) -> Effects:
        """Trading can begin: `on_start`."""
        self._begin(now_ns)
        self.strategy.on_start(self.ctx)
        return self._end()

    def warm(self, bars: Iterable[Bar]) -> int:
        """Fold history bars in (time order) with orders refused; how many were used."""
        used = 0
        self.warming = True
        try:
            for bar in bars:
                if bar.product_id in self.infos:
                    self._begin((bar.start + bar.interval_s) * NS)
                    self.prices[bar.product_id] = bar.close
                    self.strategy.on_bar(bar, self.ctx)
                    used += 1
        finally:
            self.warming = False
            self.out = Pending()
        return used

    def set_costs(self, costs: CostModel) -> None:
        """Price trades with a new fee tier from now on."""
        self.costs = costs

    # ---- market data ----
    def feed(self, tick: Tick) -> bool:
        """The cheap part of a tick (no strategy code): latest price, bars. True when `flush`
        has something to deliver: a closed bar, the tick itself, or an armed exit to check."""
        product = tick.product_id
        if product not in self.infos:
            return False
        price = self.prices[product] = price_of(tick)
        if self._bars_s:
            closed = fold_tick(self.book.bars, tick, self._bars_s, price)
            if closed is not None:
                self._queue.append(closed)
        if self._ticks or (self.book.exits and self._armed(product)):
            self._queue.append(tick)
        return bool(self._queue)

    def feed_market(self, item: Book | PublicTrade) -> bool:
        """A book or a public trade to deliver at the next `flush` (in arrival order with ticks)."""
        if item.product_id not in self.infos:
            return False
        self._queue.append(item)
        return True

    def flush(self, now_ns: int) -> Effects:
        """Deliver what `feed` gathered, in order: closed bars; ticks, exits checked first."""
        self._begin(now_ns)
        queue, self._queue = self._queue, []
        for item in queue:
            if isinstance(item, Bar):
                self.strategy.on_bar(item, self.ctx)
                continue
            if isinstance(item, Book):
                if self.data.book:
                    self.strategy.on_book(item, self.ctx)
                continue
            if isinstance(item, PublicTrade):
                self._trade(item)
                continue
            price = price_of(item)
            self._check_exit(item.product_id, price, price)
            if self._ticks:
                self.strategy.on_tick(item, self.ctx)
        return self._end()

    def on_tick(self, tick: Tick, now_ns: int | None = None) -> Effects:
        """A tick, whole (`feed` then `flush`)."""
        self.feed(tick)
        return self.flush(tick.ts_ns if now_ns is None else now_ns)

    def on_bar(self, bar: Bar, now_ns: int | None = None) -> Effects:
        """A bar delivered as such (a backtest's): exits see its low and high, then `on_bar`."""
        self._begin((bar.start + bar.interval_s) * NS if now_ns is None else now_ns)
        if bar.product_id in self.infos:
            self.prices[bar.product_id] = bar.close
            self._check_exit(bar.product_id, bar.low, bar.high)
            self.strategy.on_bar(bar, self.ctx)
        return self._end()

    def on_book(self, book: Book, now_ns: int | None = None) -> Effects:
        """The top of a book (when the strategy asked for books)."""
        self._begin(book.ts_ns if now_ns is None else now_ns)
        if self.data.book and book.product_id in self.infos:
            self.strategy.on_book(book, self.ctx)
        return self._end()

    def on_trade(self, trade: PublicTrade, now_ns: int | None = None) -> Effects:
        """A public trade: the latest price, exits, then `on_trade` (when asked for)."""
        self._begin(trade.ts_ns if now_ns is None else now_ns)
        if trade.product_id in self.infos:
            self._trade(trade)
        return self._end()

    def _trade(self, trade: PublicTrade) -> None:
        self.prices[trade.product_id] = trade.price
        self._check_exit(trade.product_id, trade.price, trade.price)
        if self.data.trades:
            self.strategy.on_trade(trade, self.ctx)

    # ---- execution feedback ----
    def on_fill(
        self,
        trade_id: str,
        client_order_id: str,
        price: Decimal,
        size: Decimal,
        fee: Decimal,
        liquidity: Liquidity,
        ts_ns: int,
        *,
        side: Side | None = None,
        product_id: str = "",
        now_ns: int | None = None,
    ) -> Effects:
        """Once per trade id: the position moves, the order's fills add up, then `on_fill` (and
        `on_order` when the order's state moved). A fill of an order we do not know sends the
        instance to Reconciling (its position moves when `side` and `product_id` are given)."""
        self._begin(ts_ns if now_ns is None else now_ns)
        if self.book.seen(trade_id):
            return Effects(reason="duplicate_fill")
        self.out.changed = True
        order, moved = self.ledger.fill(client_order_id, price, size, side, product_id)
        if order is None:
            self.out.reason = "fill_for_unknown_order"
            return self._end()
        self.out.reason = "fill"
        fill = FillView(
            order_id=client_order_id,
            product_id=order.product_id,
            side=order.side,
            price=price,
            size=size,
            fee=fee,
            liquidity=liquidity,
            ts_ns=ts_ns,
            tag=order.tag,
        )
        self.strategy.on_fill(fill, self.ctx)
        if moved:
            self._moved(order)
        return self._end()

    def on_order_update(
        self,
        client_order_id: str,
        status: OrderStatus,
        filled_size: Decimal,
        average_price: Decimal | None,
        reason: str = "",
        *,
        now_ns: int | None = None,
    ) -> Effects:
        """Execution's view of an order; `on_order` when its state moved (never backwards)."""
        self._begin(self.now if now_ns is None else now_ns)
        order = self.ledger.get(client_order_id)
        state = _STATES.get(status)
        if order is None or state is None:
            return self._end()
        if filled_size > order.reported or average_price is not None:
            order.reported = max(order.reported, filled_size)
            order.average_price = average_price if average_price is not None else order.average_price
            self.out.changed = True
        if order.advance(state):
            order.reason = reason or order.reason
            self.out.reason = f"order_{state.value}"
            self._moved(order)
        return self._end()

    def on_refused(self, seq: int, reason: str, *, now_ns: int | None = None) -> Effects:
        """Risk refused the order: done, unfilled (a repeat is ignored)."""
        return self._never_sent(seq, OrderState.REFUSED, reason, f"order_refused:{reason}", now_ns)

    def on_unsendable(self, seq: int, reason: str, *, now_ns: int | None = None) -> Effects:
        """The order could not be sent (below the venue's minimums): done, unfilled."""
        return self._never_sent(seq, OrderState.UNSENDABLE, reason, f"order_{reason}", now_ns)

    def _never_sent(self, seq: int, state: OrderState, reason: str, code: str, now_ns: int | None) -> Effects:
        self._begin(self.now if now_ns is None else now_ns)
        order = self.ledger.by_seq(seq)
        if order is not None and order.advance(state):
            order.reason = reason
            self.out.reason = code
            self._moved(order)
        return self._end()

    def on_timer(self, now_ns: int) -> Effects:
        """An order that should have ended (never acknowledged, or one that cannot rest) for
        longer than the execution timeout: Reconciling until reconciliation resolves."""
        self._begin(now_ns)
        if not self.refusal():
            late = self.ledger.late(now_ns, self.timeout_ns)
            if late is not None:
                self.book.reconciling = self.out.reason = "execution_timeout"
                self.out.changed = True
                self.out.log("execution_timeout", now_ns, seq=late.seq, state=late.state.value)
        return self._end()

    def resolve(self, positions: tuple[Decimal, ...], reason: str, *, now_ns: int | None = None) -> Effects:
        """Reconciliation's verdict: the venue's quantities (one per product) become the
        positions; orders still live are cancelled (asked at the venue, ended in the book)."""
        self._begin(self.now if now_ns is None else now_ns)
        if len(positions) != len(self.products):
            return Effects(reason="resolve_needs_positions")
        self.out.changed = True
        self.out.reason = f"resolved:{reason}" if reason else "resolved"
        for order in self.ledger.resolve(positions):
            self.out.cancels.append(self.ledger.coid(order))
            self._moved(order)
        return self._end()

    def halt(self, reason: str, *, now_ns: int | None = None) -> Effects:
        """Stop trading until resolved; live orders are asked to cancel."""
        self._begin(self.now if now_ns is None else now_ns)
        self.book.halted = self.out.reason = reason or "halted"
        self.out.changed = True
        self.out.cancels.extend(self.ledger.coid(o) for o in self.ledger.live())
        return self._end()

    # ---- internals ----
    def _begin(self, now_ns: int) -> None:
        self.now = now_ns
        self.out = Pending()

    def _end(self) -> Effects:
        return self.out.effects()

    def _moved(self, order: SdkOrder) -> None:
        """An order's state moved: book-keeping if it ended, then `on_order`."""
        self.out.changed = True
        if order.state.is_terminal:
            self.ledger.ended(order, EXIT_TAGS)
        self.strategy.on_order(self.ledger.view(order), self.ctx)

    def _armed(self, product: str) -> bool:
        exit_ = self.book.exits.get(product)
        return exit_ is not None and not exit_.fired and self.book.positions[product] != 0

    def _check_exit(self, product: str, low: Decimal, high: Decimal) -> None:
        """Fire a stop-loss / take-profit once: cancel the product's orders, close at market."""
        exit_ = self.book.exits.get(product)
        if exit_ is None or self.refusal():
            return
        tag = exit_.hit(self.book.positions[product], low, high)
        if not tag:
            return
        exit_.fired = tag
        self.out.changed = True
        self.out.log("exit_fired", self.now, product_id=product, exit=tag, low=str(low), high=str(high))
        self.ctx.cancel_all(product)
        self.ctx.close(product, tag=tag)
