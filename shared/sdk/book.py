"""The framework's book of one SDK strategy instance: what it knows from fills and order events,
kept apart from the strategy's own state because it is a fact about the venue.

Positions, orders and the order sequence are always restored (a client order id is never reused,
a position never forgotten); the strategy's pickled attributes only when its fingerprint matches.
The book is msgspec Structs, so a snapshot is one msgpack value in KV; `Ledger` holds the rules
that change it.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.messages.base import Side
from shared.messages.orders import Purpose, TimeInForce, client_order_id
from shared.money import ZERO
from shared.sdk.api import OrderState, OrderView
from shared.sdk.bars import BarState

KEEP_TERMINAL = 64
"""Terminal orders kept (for `Context.order`, and so a fill trailing its order is recognised)."""
KEEP_TRADES = 256
_COID_CACHE = 4 * KEEP_TERMINAL
"""Trade ids kept to drop fills delivered twice (redelivery after a crash)."""

_RANK = {OrderState.SENT: 0, OrderState.OPEN: 1, OrderState.PARTIALLY_FILLED: 2}


class SdkOrder(msgspec.Struct, kw_only=True):
    """One order of the strategy. `filled` and `notional` add up its fills; `reported` is the
    filled size execution reported (events and fills travel apart, either may come first)."""

    seq: int
    leg: int
    product_id: str
    side: Side
    size: Decimal
    limit_price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    purpose: Purpose
    tag: str
    sent_ns: int
    state: OrderState = OrderState.SENT
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    reported: Decimal = ZERO
    average_price: Decimal | None = None
    reason: str = ""

    @property
    def remaining(self) -> Decimal:
        """Size not filled yet (by what is known so far)."""
        return max(self.size - max(self.filled, self.reported), ZERO)

    @property
    def must_end_soon(self) -> bool:
        """Not acknowledged yet, or an order that cannot rest (market, IOC, FOK): an execution
        timeout applies. A resting GTC limit order may stay open as long as it likes."""
        if self.state.is_terminal:
            return False
        return self.state is OrderState.SENT or self.time_in_force is not TimeInForce.GTC

    def advance(self, state: OrderState) -> bool:
        """Move forward only (events arrive out of order); a terminal state is final."""
        if self.state.is_terminal or state is self.state:
            return False
        if not state.is_terminal and _RANK[state] <= _RANK[self.state]:
            return False
        self.state = state
        return True

    def view(self, coid: str) -> OrderView:
        """The strategy's read-only copy."""
        filled = max(self.filled, self.reported)
        average = self.average_price
        if average is None and self.filled > ZERO:
            average = self.notional / self.filled
        return OrderView(
            id=coid,
            product_id=self.product_id,
            side=self.side,
            size=self.size,
            limit_price=self.limit_price,
            time_in_force=self.time_in_force,
            post_only=self.post_only,
            state=self.state,
            filled=filled,
            average_price=average,
            tag=self.tag,
            reason=self.reason,
        )


class SdkExit(msgspec.Struct, kw_only=True):
    """Framework-tracked exits of one product's position; `fired` is the tag of the exit that
    fired (it fires once, re-arming only if its order ends with the position still open)."""

    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    fired: str = ""

    def hit(self, position: Decimal, low: Decimal, high: Decimal) -> str:
        """'stop_loss', 'take_profit' or '' for a position and the price range just seen."""
        if self.fired or position == ZERO:
            return ""
        long = position > ZERO
        stop, take = self.stop_loss, self.take_profit
        if stop is not None and (low <= stop if long else high >= stop):
            return "stop_loss"
        if take is not None and (high >= take if long else low <= take):
            return "take_profit"
        return ""


class SdkBook(msgspec.Struct, kw_only=True):
    """Positions (signed, order units), orders oldest first, the next order sequence, recent trade
    ids, exits, bars being built, and why trading stopped ('' when it did not)."""

    positions: dict[str, Decimal] = msgspec.field(default_factory=dict)
    orders: list[SdkOrder] = msgspec.field(default_factory=list)
    next_seq: int = 1
    seen_trades: list[str] = msgspec.field(default_factory=list)
    exits: dict[str, SdkExit] = msgspec.field(default_factory=dict)
    bars: dict[str, BarState] = msgspec.field(default_factory=dict)
    halted: str = ""
    reconciling: str = ""

    def seen(self, trade_id: str) -> bool:
        """True when the trade was already folded in; otherwise remember it."""
        if trade_id in self.seen_trades:
            return True
        self.seen_trades.append(trade_id)
        del self.seen_trades[:-KEEP_TRADES]
        return False

    def prune(self) -> list[SdkOrder]:
        """Keep every live order and the latest terminal ones; the orders dropped."""
        done = [o for o in self.orders if o.state.is_terminal]
        if len(done) <= KEEP_TERMINAL:
            return []
        dropped = done[:-KEEP_TERMINAL]
        gone = {id(o) for o in dropped}
        self.orders = [o for o in self.orders if id(o) not in gone]
        return dropped


class SdkSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """An SDK instance's whole state: the book, the strategy's pickled attributes and the
    fingerprint of the code and params they belong to."""

    book: SdkBook
    state: bytes = b""
    fingerprint: str = ""

    def sequence_only(self) -> SdkSnapshot:
        """Only the order sequence: what a deleted (retired) instance keeps, so a re-created one
        never reuses a client order id."""
        return SdkSnapshot(book=SdkBook(next_seq=self.book.next_seq))


def copy_book(book: SdkBook) -> SdkBook:
    """A deep copy (the book is mutated in place as events arrive)."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(book), type=SdkBook)


class Ledger:
    """The book with its indexes and its rules: how fills, order states, timeouts and a
    reconciliation verdict change it. No strategy code runs here."""

    def __init__(self, strategy_id: str, products: tuple[str, ...], book: SdkBook) -> None:
        self.sid = strategy_id
        self.products = products
        self.book = book
        for product in products:
            book.positions.setdefault(product, ZERO)
        self._by_id: dict[str, SdkOrder] = {}
        self._by_seq: dict[int, SdkOrder] = {}
        self._coids: dict[tuple[int, int], str] = {}
        for order in book.orders:
            self._index(order)

    # ---- reads ----
    def coid(self, order: SdkOrder) -> str:
        """The order's client order id (a uuid5, computed once per order: views ask every tick)."""
        key = (order.seq, order.leg)
        found = self._coids.get(key)
        if found is None:
            if len(self._coids) > _COID_CACHE:
                self._coids.clear()
            found = self._coids[key] = client_order_id(self.sid, order.seq, order.leg)
        return found

    def get(self, coid: str) -> SdkOrder | None:
        """An order by client order id (live or recently ended)."""
        return self._by_id.get(coid)

    def by_seq(self, seq: int) -> SdkOrder | None:
        """An order by sequence."""
        return self._by_seq.get(seq)

    def view(self, order: SdkOrder) -> OrderView:
        """The strategy's copy of an order."""
        return order.view(self.coid(order))

    def live(self, product_id: str | None = None) -> list[SdkOrder]:
        """Orders not yet terminal, oldest first."""
        return [
            o
            for o in self.book.orders
            if not o.state.is_terminal and (product_id is None or o.product_id == product_id)
        ]

    @property
    def state(self) -> str:
        """The dashboards' vocabulary; resting GTC orders leave an instance at rest."""
        b = self.book
        if b.halted:
            return "halted"
        if b.reconciling:
            return "reconciling"
        moving = [o for o in b.orders if o.must_end_soon]
        if moving:
            return "exiting" if moving[-1].purpose is Purpose.EXIT else "entering"
        return "in_position" if any(b.positions[p] for p in self.products) else "flat"

    # ---- changes ----
    def add(self, order: SdkOrder) -> None:
        """A new order takes the next sequence (never reused: it is in every snapshot)."""
        self.book.next_seq = order.seq + 1
        self.book.orders.append(order)
        self._index(order)

    def fill(
        self, coid: str, price: Decimal, size: Decimal, side: Side | None, product_id: str
    ) -> tuple[SdkOrder | None, bool]:
        """Fold in a fill (already de-duplicated): the order it belongs to and whether its state
        moved. A fill of an unknown order moves the position when `side` says how, and puts the
        instance in Reconciling."""
        positions = self.book.positions
        order = self._by_id.get(coid)
        if order is None:
            if side is not None and product_id in positions:
                positions[product_id] += side.sign * size
            self.book.reconciling = self.book.reconciling or "fill_for_unknown_order"
            return None, False
        positions[order.product_id] += order.side.sign * size
        order.filled += size
        order.notional += price * size
        done = max(order.filled, order.reported) >= order.size
        moved = order.advance(OrderState.FILLED if done else OrderState.PARTIALLY_FILLED)
        if positions[order.product_id] == ZERO:
            self.book.exits.pop(order.product_id, None)
        return order, moved

    def ended(self, order: SdkOrder, exit_tags: tuple[str, ...]) -> None:
        """An order became terminal: an exit order that left a position re-arms its exit, and
        old terminal orders are forgotten."""
        exit_ = self.book.exits.get(order.product_id)
        if exit_ is not None and order.tag in exit_tags and self.book.positions[order.product_id]:
            exit_.fired = ""
        for gone in self.book.prune():
            self._by_seq.pop(gone.seq, None)
            self._by_id.pop(self.coid(gone), None)

    def late(self, now_ns: int, timeout_ns: int) -> SdkOrder | None:
        """The first order that should have ended by now and has not."""
        return next(
            (o for o in self.book.orders if o.must_end_soon and now_ns - o.sent_ns > timeout_ns), None
        )

    def resolve(self, positions: tuple[Decimal, ...]) -> list[SdkOrder]:
        """The venue's quantities become the positions and trading may resume; live orders are
        taken as cancelled (the caller asks the venue to cancel them). Those orders."""
        b = self.book
        for product, quantity in zip(self.products, positions, strict=True):
            b.positions[product] = quantity
            if quantity == ZERO:
                b.exits.pop(product, None)
        b.reconciling = b.halted = ""
        cancelled = self.live()
        for order in cancelled:
            order.advance(OrderState.CANCELLED)
            order.reason = "resolved"
        return cancelled

    def _index(self, order: SdkOrder) -> None:
        self._by_id[self.coid(order)] = order
        self._by_seq[order.seq] = order


def check_flags(product_id: str, limit: Decimal | None, tif: TimeInForce, post_only: bool) -> None:
    """The order configurations the venue takes: GTD needs an end time the API does not carry,
    and post-only only applies to a limit order that may rest (GTC)."""
    if tif is TimeInForce.GTD:
        raise ValueError(f"{product_id}: time in force GTD is not supported; use GTC, IOC or FOK")
    if post_only and (limit is None or tif is not TimeInForce.GTC):
        raise ValueError(f"{product_id}: post_only needs a GTC limit order")
