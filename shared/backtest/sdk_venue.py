"""The simulated venue of an SDK backtest: a strategy's orders against bars, and a cash account.

The bar fill model (bars have no queue and no intra-bar path, so each rule picks the side that
flatters the strategy least):
- An order reaches the market at its product's next *arrival*: the next bar's open (`next-open`)
  or the current bar's close (`close`), at that price `A`.
- Market: fills in full at `A` moved against us by the slippage, as taker.
- Limit that crosses `A` (a buy at or above it, a sell at or below): post-only is rejected
  (`INVALID_LIMIT_PRICE_POST_ONLY`, as Coinbase); otherwise it takes at `A` plus slippage, never
  beyond its limit, as taker.
- Limit that does not cross: IOC and FOK are cancelled; GTC and GTD rest (`ACCEPTED`).
- A resting limit fills in full at its limit, as maker, in a later stretch of a bar that trades
  *through* it (low below a buy's limit, high above a sell's). A touch does not fill: the queue
  ahead of the order is unknown. An order that arrived at an open can fill in the rest of that bar.
- A cancel takes effect before the next bar, so before any fill in it.
- Funds: a buy needs cash for its notional plus fee, net of what resting buys hold, else it is
  rejected (`INSUFFICIENT_FUND`). Sells are not limited: shorts are allowed, without margin.
No partial fills. Money is Decimal throughout; the bar prices are the shortest repr of each float.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from shared.backtest.sdk_trades import TradeBook
from shared.messages.base import Side
from shared.messages.orders import Liquidity, OrderStatus, TimeInForce
from shared.messages.products import ProductInfo
from shared.money import BPS, ZERO

POST_ONLY_CROSSES = "INVALID_LIMIT_PRICE_POST_ONLY"
INSUFFICIENT_FUND = "INSUFFICIENT_FUND"
NOT_MARKETABLE = "IOC order could not be filled at its limit"


@dataclass(frozen=True)
class SimFill:
    """One execution, as execution would report it."""

    trade_id: str
    order_id: str
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: Liquidity
    ts_ns: int


@dataclass(frozen=True)
class SimUpdate:
    """One order state change, as execution would report it."""

    order_id: str
    status: OrderStatus
    filled: Decimal
    average_price: Decimal | None
    reason: str = ""


Report = SimFill | SimUpdate


@dataclass
class SimOrder:
    """An order the venue holds; `tag` labels the round trip it closes."""

    id: str
    product_id: str
    side: Side
    size: Decimal
    limit: Decimal | None
    tif: TimeInForce
    post_only: bool
    tag: str
    resting: bool = False
    hold: Decimal = field(default=ZERO)
    """Cash reserved by a resting buy."""


class SimVenue:
    """Orders, cash and positions of one backtest. `on_report` receives every fill and order update
    in the order execution would publish them (a fill before the status that it completes)."""

    def __init__(
        self,
        infos: dict[str, ProductInfo],
        *,
        capital: Decimal,
        taker_bps: Decimal,
        maker_bps: Decimal,
        slippage_bps: Decimal,
        on_report: Callable[[Report], None],
    ) -> None:
        self.infos = infos
        self.cash = capital
        self.taker, self.maker, self.slip = taker_bps / BPS, maker_bps / BPS, slippage_bps / BPS
        self.on_report = on_report
        self.positions: dict[str, Decimal] = dict.fromkeys(infos, ZERO)
        self.trades = TradeBook()
        self.arriving: dict[str, list[SimOrder]] = {p: [] for p in infos}
        self.resting: dict[str, list[SimOrder]] = {p: [] for p in infos}
        self.cancelling: list[str] = []
        self.fills = 0
        self._trade_seq = 0

    # ---- what the strategy asks ----
    def submit(self, order: SimOrder) -> None:
        """An order leaves the strategy; it reaches the market at its product's next arrival."""
        self.arriving[order.product_id].append(order)

    def cancel(self, order_id: str) -> None:
        """A cancel request; it lands before the next bar (`apply_cancels`)."""
        self.cancelling.append(order_id)

    # ---- the market ----
    def apply_cancels(self) -> None:
        """Cancel every requested order that is still working (others: a no-op, as at the venue)."""
        wanted, self.cancelling = self.cancelling, []
        for order_id in wanted:
            for book in (*self.arriving.values(), *self.resting.values()):
                found = next((o for o in book if o.id == order_id), None)
                if found is not None:
                    book.remove(found)
                    self._release(found)
                    self.on_report(SimUpdate(found.id, OrderStatus.CANCELLED, ZERO, None, "cancelled"))
                    break

    def arrive_all(self, prices: dict[str, Decimal], ts_ns: int) -> bool:
        """Orders waiting for these products reach the market at their price (an open or a close);
        orders sent meanwhile wait for the next arrival. False when none was waiting."""
        waiting = {p: self.arriving[p] for p in prices if self.arriving[p]}
        for product_id in waiting:
            self.arriving[product_id] = []
        for product_id, orders in waiting.items():
            for order in orders:
                self._arrive(order, prices[product_id], ts_ns)
        return bool(waiting)

    def trade_through(self, product_id: str, low: Decimal, high: Decimal, ts_ns: int) -> None:
        """A bar's range: resting limits it trades through fill at their limit, as maker."""
        for order in list(self.resting[product_id]):
            assert order.limit is not None
            through = low < order.limit if order.side is Side.BUY else high > order.limit
            if through and order in self.resting[product_id]:
                self.resting[product_id].remove(order)
                self._release(order)
                self._fill(order, order.limit, Liquidity.MAKER, ts_ns)

    def liquidate(self, closes: dict[str, Decimal], ts_ns: int) -> None:
        """Close every position at its last close (with slippage and taker fee): `end_of_data`."""
        for product_id, position in self.positions.items():
            if position != ZERO:
                side = Side.SELL if position > 0 else Side.BUY
                price = self._slipped(side, closes[product_id])
                size = abs(position)
                order = SimOrder(
                    "end_of_data", product_id, side, size, None, TimeInForce.IOC, False, "end_of_data"
                )
                self._book(order, price, self.infos[product_id].notional(size, price) * self.taker, ts_ns)

    def equity(self, closes: dict[str, Decimal]) -> Decimal:
        """Cash plus every position at its close."""
        return self.cash + sum(
            (self.infos[p].notional(q, closes[p]) for p, q in self.positions.items() if q and p in closes),
            ZERO,
        )

    @property
    def open_orders(self) -> int:
        """Orders not yet terminal (waiting to arrive or resting)."""
        return sum(map(len, self.arriving.values())) + sum(map(len, self.resting.values()))

    # ---- the rules ----
    def _arrive(self, order: SimOrder, price: Decimal, ts_ns: int) -> None:
        taker = self._slipped(order.side, price)
        if order.limit is None:
            self._take(order, taker, ts_ns)
            return
        crosses = order.limit >= price if order.side is Side.BUY else order.limit <= price
        if crosses and order.post_only:
            self.on_report(SimUpdate(order.id, OrderStatus.REJECTED, ZERO, None, POST_ONLY_CROSSES))
        elif crosses:
            capped = min(taker, order.limit) if order.side is Side.BUY else max(taker, order.limit)
            self._take(order, capped, ts_ns)
        elif order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self.on_report(SimUpdate(order.id, OrderStatus.CANCELLED, ZERO, None, NOT_MARKETABLE))
        elif order.side is Side.BUY and not self._hold(order):
            self.on_report(SimUpdate(order.id, OrderStatus.REJECTED, ZERO, None, INSUFFICIENT_FUND))
        else:
            order.resting = True
            self.resting[order.product_id].append(order)
            self.on_report(SimUpdate(order.id, OrderStatus.ACCEPTED, ZERO, None))

    def _take(self, order: SimOrder, price: Decimal, ts_ns: int) -> None:
        if order.side is Side.BUY and self._cost(order, price, self.taker) > self._available():
            self.on_report(SimUpdate(order.id, OrderStatus.REJECTED, ZERO, None, INSUFFICIENT_FUND))
            return
        self._fill(order, price, Liquidity.TAKER, ts_ns)

    def _fill(self, order: SimOrder, price: Decimal, liquidity: Liquidity, ts_ns: int) -> None:
        rate = self.taker if liquidity is Liquidity.TAKER else self.maker
        fee = self.infos[order.product_id].notional(order.size, price) * rate
        self._book(order, price, fee, ts_ns)
        self._trade_seq += 1
        self.fills += 1
        self.on_report(SimFill(f"bt-{self._trade_seq}", order.id, price, order.size, fee, liquidity, ts_ns))
        self.on_report(SimUpdate(order.id, OrderStatus.FILLED, order.size, price))

    def _book(self, order: SimOrder, price: Decimal, fee: Decimal, ts_ns: int) -> None:
        signed = order.size if order.side is Side.BUY else -order.size
        notional = self.infos[order.product_id].notional(signed, price)
        self.cash -= notional + fee
        self.positions[order.product_id] += signed
        self.trades.add(order.product_id, ts_ns, signed, price, notional, fee, order.tag)

    def _slipped(self, side: Side, price: Decimal) -> Decimal:
        return price * (1 + self.slip) if side is Side.BUY else price * (1 - self.slip)

    def _cost(self, order: SimOrder, price: Decimal, rate: Decimal) -> Decimal:
        return self.infos[order.product_id].notional(order.size, price) * (1 + rate)

    def _available(self) -> Decimal:
        held = sum((o.hold for book in self.resting.values() for o in book), ZERO)
        return self.cash - held

    def _hold(self, order: SimOrder) -> bool:
        assert order.limit is not None
        cost = self._cost(order, order.limit, self.maker)
        if cost > self._available():
            return False
        order.hold = cost
        return True

    def _release(self, order: SimOrder) -> None:
        order.hold = ZERO
