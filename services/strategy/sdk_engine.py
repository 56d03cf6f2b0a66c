"""The engine of an SDK strategy (a user's `Strategy` class, or a built-in written on the public
API): the instance runtime's `Engine` over the pure `Runner`.

It only translates: tickers and candles into the SDK's `Tick` and `Bar`, fills and order events
into runner calls, `Effects` into `Outcome`s (cancels and the strategy's log lines included). Bars
are cut on exchange time inside the runner, so the engine asks the router for every tick whenever
the strategy wants ticks or bars. `on_start` runs on the first call after warm-up.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from services.strategy.engine import Outcome
from shared.messages import ProductInfo
from shared.messages.base import Side
from shared.messages.market import BookUpdate, Candle, Ticker, Trade
from shared.messages.orders import Fill, OrderEvent, Purpose, TimeInForce
from shared.messages.snapshots import InstanceSnapshot, MaBook
from shared.messages.strategy import MaCrossoverParams
from shared.sdk.api import Bar, Book, BookLevel, PublicTrade, Strategy, Tick
from shared.sdk.book import SdkBook, SdkOrder, SdkSnapshot
from shared.sdk.runtime import Effects, Runner
from shared.sdk.state import dump_state, fingerprint
from shared.strategies import CostModel, MaCrossover, MaCrossoverSnapshot
from shared.strategies.ma_strategy import MaCrossoverStrategy

_NS = 1_000_000_000
_NONE = Effects()


def tick_of(ticker: Ticker) -> Tick:
    """The SDK's tick: exchange time when the venue gave one, else the receive time."""
    return Tick(
        product_id=ticker.product_id,
        bid=ticker.bid,
        ask=ticker.ask,
        last=ticker.last,
        ts_ns=ticker.exchange_time_ns or ticker.receive_time_ns,
    )


def book_of(update: BookUpdate) -> Book:
    """The SDK's view of a book update (the top levels, best first)."""
    return Book(
        product_id=update.product_id,
        bids=tuple(BookLevel(level.price, level.size) for level in update.bids),
        asks=tuple(BookLevel(level.price, level.size) for level in update.asks),
        ts_ns=update.exchange_time_ns or update.receive_time_ns,
    )


def trade_of(trade: Trade) -> PublicTrade:
    """The SDK's view of a public trade."""
    return PublicTrade(
        product_id=trade.product_id,
        price=trade.price,
        size=trade.size,
        side=trade.side,
        ts_ns=trade.exchange_time_ns or trade.receive_time_ns,
    )


def bar_of(candle: Candle) -> Bar:
    """The SDK's bar of a venue candle."""
    return Bar(
        product_id=candle.product_id,
        start=candle.start,
        interval_s=candle.granularity_s,
        open=candle.open,
        high=candle.high,
        low=candle.low,
        close=candle.close,
        volume=candle.volume,
    )


def outcome_of(effects: Effects) -> Outcome:
    """The runtime's view of one event's effects."""
    return Outcome(
        orders=effects.orders,
        cancels=effects.cancels,
        decision=effects.decision,
        changed=effects.changed,
        reason=effects.reason,
        logs=effects.logs,
    )


def from_ma_snapshot(
    params: MaCrossoverParams, book: MaBook, core: MaCrossoverSnapshot | None
) -> SdkSnapshot:
    """An SDK snapshot of an instance saved before the SDK runtime (the MA engine's `ma` and
    `ma_book`): its position, open orders, order sequence and trade ids carry over; its core too
    when given (saved with `params`)."""
    product = params.product_id
    orders = [
        SdkOrder(
            seq=o.seq,
            leg=1,
            product_id=product,
            side=Side(o.side),
            size=o.size,
            limit_price=None,
            time_in_force=TimeInForce.IOC,
            post_only=False,
            purpose=Purpose.ENTRY if o.side == Side.BUY.value else Purpose.EXIT,
            tag="",
            sent_ns=o.sent_ns,
            filled=o.filled,
        )
        for o in book.pending
    ]
    sdk_book = SdkBook(
        positions={product: book.position},
        orders=orders,
        next_seq=book.next_seq,
        seen_trades=list(book.seen_trades),
        halted=book.halted,
        reconciling=book.reconciling,
    )
    if core is None:
        return SdkSnapshot(book=sdk_book)
    strategy = MaCrossoverStrategy(params)
    strategy.core = MaCrossover.restore(params, core)
    state = dump_state(strategy)
    return SdkSnapshot(book=sdk_book, state=state, fingerprint=fingerprint(MaCrossoverStrategy, params))


def _after(first: Effects, effects: Effects) -> Outcome:
    """`first` (the effects of `on_start`, usually none) then `effects`, as an outcome."""
    return outcome_of(effects if first is _NONE else first.then(effects))


class SdkEngine:
    """One SDK strategy instance."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.products: tuple[str, ...] = runner.products
        data = runner.data
        self.every_tick = data.ticks or data.bars_s > 0
        self._started = False

    @classmethod
    def create(
        cls,
        strategy_id: str,
        strategy: Strategy[Any],
        infos: dict[str, ProductInfo],
        costs: CostModel,
        *,
        timeout_s: float,
        snapshot: SdkSnapshot | None = None,
    ) -> SdkEngine:
        """An engine around a new runner (the book, and the state when it matches, restored)."""
        return cls(Runner(strategy_id, strategy, infos, costs, int(timeout_s * _NS), snapshot))

    # ---- views ----
    @property
    def state(self) -> str:
        """The dual-leg state names."""
        return self.runner.state

    @property
    def positions(self) -> tuple[tuple[str, Decimal], ...]:
        """Signed positions from fills."""
        return self.runner.positions

    @property
    def restored_warm(self) -> bool:
        """The strategy's own state came back from the snapshot: no warm-up needed."""
        return self.runner.restored_warm

    # ---- market data ----
    def on_ticker(self, ticker: Ticker) -> bool:
        """Fold the tick into prices and bars (no strategy code); True when there is work."""
        return self.runner.feed(tick_of(ticker))

    def on_market(self, message: BookUpdate | Trade) -> bool:
        """A book update or a public trade (for a strategy whose `data()` asks for them)."""
        return self.runner.feed_market(
            book_of(message) if isinstance(message, BookUpdate) else trade_of(message)
        )

    def process(self, now_ns: int) -> Outcome:
        """Deliver the closed bars and ticks gathered since the last call."""
        first = self._start(now_ns)
        return _after(first, self.runner.flush(now_ns))

    def warm(self, candles: dict[str, list[Candle]]) -> int:
        """Candles of the warm-up interval, all products merged in time order."""
        data = self.runner.data
        interval = data.warmup_interval_s or data.bars_s or 60
        order = {p: i for i, p in enumerate(self.products)}
        bars = sorted(
            (bar_of(c) for p in self.products for c in candles.get(p, []) if c.granularity_s == interval),
            key=lambda b: (b.start, order[b.product_id]),
        )
        return self.runner.warm(bars)

    # ---- execution feedback ----
    def seq_of(self, client_order_id: str) -> int | None:
        """Our sequence for a client order id."""
        return self.runner.seq_of(client_order_id)

    def on_fill(self, fill: Fill, now_ns: int) -> Outcome:
        """A fill, once per trade id."""
        first = self._start(now_ns)
        effects = self.runner.on_fill(
            fill.trade_id,
            fill.client_order_id,
            fill.price,
            fill.size,
            fill.fee,
            fill.liquidity,
            fill.fill_ns,
            side=fill.side,
            product_id=fill.product_id,
            now_ns=now_ns,
        )
        return _after(first, effects)

    def on_order_event(self, event: OrderEvent, now_ns: int) -> Outcome:
        """Any state change of one of our orders (the strategy sees open and partial too)."""
        first = self._start(now_ns)
        effects = self.runner.on_order_update(
            event.client_order_id,
            event.status,
            event.filled_size,
            event.average_price,
            event.reason,
            now_ns=now_ns,
        )
        return _after(first, effects)

    def on_order_unsendable(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """Could not be sent: done, unfilled."""
        first = self._start(now_ns)
        return _after(first, self.runner.on_unsendable(seq, reason, now_ns=now_ns))

    def on_order_refused(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """Refused by risk: done, unfilled (a repeat is ignored)."""
        first = self._start(now_ns)
        return _after(first, self.runner.on_refused(seq, reason, now_ns=now_ns))

    def on_timer(self, now_ns: int) -> Outcome:
        """Execution timeouts (and `on_start`, when nothing else came first)."""
        first = self._start(now_ns)
        return _after(first, self.runner.on_timer(now_ns))

    def resolve(
        self, now_ns: int, positions: tuple[Decimal, ...], prices: tuple[Decimal, ...], reason: str
    ) -> Outcome:
        """The venue's quantities, one per product (prices are not needed)."""
        first = self._start(now_ns)
        return _after(first, self.runner.resolve(positions, reason, now_ns=now_ns))

    def set_costs(self, costs: CostModel) -> None:
        """The fee tier the strategy reads in `ctx.costs`."""
        self.runner.set_costs(costs)

    def halt(self, now_ns: int, reason: str) -> Outcome:
        """Stop trading until resolved; live orders are asked to cancel."""
        first = self._start(now_ns)
        return _after(first, self.runner.halt(reason, now_ns=now_ns))

    def snapshot_into(self, base: InstanceSnapshot) -> InstanceSnapshot:
        """The book and the strategy's state."""
        return msgspec.structs.replace(base, sdk=self.runner.snapshot())

    def _start(self, now_ns: int) -> Effects:
        """`on_start`'s effects on the first call after warm-up; nothing afterwards."""
        if self._started:
            return _NONE
        self._started = True
        return self.runner.start(now_ns)
