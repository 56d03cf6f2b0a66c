"""The MA-crossover engine: bars built from ticks (or candles) feed `MaCrossover`; BUY opens
`order_size`, SELL closes the position held *according to fills*.

Bars are cut on the tick's exchange time (event time, as the backtester does), so the same ticks
always make the same bars; a bar closes when the first tick of a later bucket arrives. The core's
position flag is put back in line with fills whenever an order ends (a rejected entry must not
leave the core believing it is long — the original had no feedback at all).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from services.strategy.engine import NOTHING, Outcome, coid_table
from shared.messages import ProductInfo
from shared.messages.base import Side
from shared.messages.market import Candle, Ticker
from shared.messages.orders import Fill, OrderEvent, Purpose
from shared.messages.snapshots import InstanceSnapshot, MaBook, PendingOrder
from shared.messages.strategy import MaCrossoverParams, SignalAction
from shared.money import ZERO, round_to_increment
from shared.strategies import CostModel, MaCrossover, OrderRequest

_NS = 1_000_000_000
_SEEN_TRADES = 256


class MaEngine:
    """One MA instance: core + position book + bar builder."""

    every_tick = True  # bars are built from every tick

    def __init__(
        self,
        strategy_id: str,
        params: MaCrossoverParams,
        product: ProductInfo,
        *,
        timeout_s: float,
        core: MaCrossover | None = None,
        book: MaBook | None = None,
    ) -> None:
        self.sid = strategy_id
        self.params = params
        self.product = product
        self.products: tuple[str, ...] = (params.product_id,)
        self.core = core or MaCrossover(params)
        self.book = book or MaBook()
        self._timeout_ns = int(timeout_s * _NS)
        self._closed: list[tuple[int, Decimal]] = []
        first = max(1, self.book.next_seq - 256)
        self._coids = coid_table(strategy_id, [(s, 1) for s in range(first, self.book.next_seq)])
        self.last_price: Decimal | None = None

    # ---- views ----
    @property
    def state(self) -> str:
        """Dual-leg state names, so dashboards read one vocabulary."""
        b = self.book
        if b.halted:
            return "halted"
        if b.reconciling:
            return "reconciling"
        if b.pending:
            return "entering" if b.pending[-1].side == Side.BUY else "exiting"
        return "in_position" if b.position > ZERO else "flat"

    @property
    def positions(self) -> tuple[tuple[str, Decimal], ...]:
        """Position from fills."""
        return ((self.params.product_id, self.book.position),)

    # ---- market data ----
    def on_ticker(self, ticker: Ticker) -> bool:
        """Cut bars on event time; the last price of a bucket is its close."""
        price = ticker.last if ticker.last.is_finite() and ticker.last > ZERO else ticker.mid
        self.last_price = price
        ts = ticker.exchange_time_ns or ticker.receive_time_ns
        start = ts // _NS // self.params.interval_s * self.params.interval_s
        b = self.book
        if b.bar_start is None or b.bar_close is None:
            b.bar_start, b.bar_close = start, price
            return False
        if start > b.bar_start:
            self._closed.append((b.bar_start, b.bar_close))
            b.bar_start, b.bar_close = start, price
            return True
        if start == b.bar_start:
            b.bar_close = price
        return False

    def warm(self, candles: dict[str, list[Candle]]) -> int:
        """Fold history bars in; signals during warm-up are not traded, the flag follows fills."""
        used = 0
        for candle in candles.get(self.params.product_id, []):
            if candle.granularity_s == self.params.interval_s:
                self.core.on_candle(candle)
                used += 1
        self.core.set_position(self.book.position > ZERO)
        return used

    def process(self, now_ns: int) -> Outcome:
        """Run the core on every bar closed since the last call (orders of all of them are kept)."""
        closed, self._closed = self._closed, []
        orders: list[OrderRequest] = []
        shown = None
        for start, close in closed:
            decision = self.core.on_bar(start, close)
            orders.extend(self._act(decision.action, close, decision.reason, now_ns))
            if shown is None or decision.action is not SignalAction.HOLD:
                shown = decision
        if shown is None:
            return NOTHING
        return Outcome(orders=tuple(orders), decision=shown, changed=bool(orders), reason=shown.reason)

    def _act(
        self, action: SignalAction, price: Decimal, reason: str, now_ns: int
    ) -> tuple[OrderRequest, ...]:
        b = self.book
        if action is SignalAction.HOLD:
            return ()
        if b.halted or b.reconciling:
            self.core.set_position(b.position > ZERO)
            return ()
        if action is SignalAction.BUY:
            size, side, purpose = self.params.order_size, Side.BUY, Purpose.ENTRY
        else:
            size, side, purpose = max(b.position, ZERO), Side.SELL, Purpose.EXIT
        size = round_to_increment(size, self.product.base_increment)
        if size <= ZERO or size < self.product.base_min_size:
            self.core.set_position(b.position > ZERO)
            return ()
        return (self._new_order(side, size, purpose, price, reason, now_ns),)

    def _new_order(
        self, side: Side, size: Decimal, purpose: Purpose, price: Decimal, reason: str, now_ns: int
    ) -> OrderRequest:
        b = self.book
        seq = b.next_seq
        b.next_seq += 1
        b.pending.append(PendingOrder(seq=seq, side=side.value, size=size, sent_ns=now_ns))
        self._coids.update(coid_table(self.sid, [(seq, 1)]))
        return OrderRequest(
            seq=seq, leg=1, side=side, size=size, purpose=purpose, reference_price=price, reason=reason
        )

    # ---- execution feedback ----
    def seq_of(self, client_order_id: str) -> int | None:
        """Our sequence for a client order id."""
        return self._coids.get(client_order_id)

    def on_fill(self, fill: Fill, now_ns: int) -> Outcome:
        """Position moves with every fill (once per trade id)."""
        b = self.book
        if fill.trade_id in b.seen_trades:
            return Outcome(reason="duplicate_fill")
        b.seen_trades.append(fill.trade_id)
        del b.seen_trades[:-_SEEN_TRADES]
        seq = self.seq_of(fill.client_order_id)
        b.position += fill.side.sign * fill.size
        for order in b.pending:
            if order.seq == seq:
                order.filled += fill.size
        reason = "fill" if seq is not None else "fill_for_unknown_order"
        if seq is None:
            b.reconciling = reason
        if not b.pending:  # a fill that trails its order's terminal event
            self.core.set_position(b.position > ZERO)
        return Outcome(changed=True, reason=reason)

    def on_order_event(self, event: OrderEvent, now_ns: int) -> Outcome:
        """A terminal order leaves the pending list and the core's flag follows the position."""
        seq = self.seq_of(event.client_order_id)
        if seq is None or not event.status.is_terminal:
            return NOTHING
        return self._done(seq, event.status.value)

    def on_order_unsendable(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """Below the venue minimum: never sent, so done at once."""
        return self._done(seq, reason)

    def on_order_refused(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """Refused by risk: never sent, so done at once (the core's flag follows the position)."""
        return self._done(seq, f"refused:{reason}")

    def _done(self, seq: int, reason: str) -> Outcome:
        b = self.book
        before = len(b.pending)
        b.pending = [o for o in b.pending if o.seq != seq]
        if len(b.pending) == before:
            return NOTHING
        self.core.set_position(b.position > ZERO)
        return Outcome(changed=True, reason=f"order_{reason}")

    def on_timer(self, now_ns: int) -> Outcome:
        """An order without an outcome for too long: Reconciling until reconciliation resolves."""
        b = self.book
        if b.reconciling or b.halted:
            return NOTHING
        for order in b.pending:
            if order.sent_ns and now_ns - order.sent_ns > self._timeout_ns:
                b.reconciling = "execution_timeout"
                return Outcome(changed=True, reason="execution_timeout")
        return NOTHING

    def resolve(
        self, now_ns: int, positions: tuple[Decimal, ...], prices: tuple[Decimal, ...], reason: str
    ) -> Outcome:
        """The venue's quantity becomes the position; open orders are forgotten."""
        b = self.book
        if not positions:
            return Outcome(reason="resolve_needs_positions")
        b.position, b.pending, b.reconciling, b.halted = positions[0], [], "", ""
        self.core.set_position(b.position > ZERO)
        return Outcome(changed=True, reason=f"resolved:{reason}" if reason else "resolved")

    def set_costs(self, costs: CostModel) -> None:
        """An MA crossover trades on price alone: fees do not enter its decisions."""

    def halt(self, now_ns: int, reason: str) -> Outcome:
        """Stop trading until resolved."""
        self.book.halted = reason or "halted"
        return Outcome(changed=True, reason=self.book.halted)

    def snapshot_into(self, base: InstanceSnapshot) -> InstanceSnapshot:
        """Core + book."""
        return msgspec.structs.replace(base, ma=self.core.snapshot(), ma_book=_copy(self.book))


def _copy(book: MaBook) -> MaBook:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(book), type=MaBook)
