"""The `Context` a `Runner` hands its strategy, and the `Effects` one event gathers through it:
reads of the framework's book, and order requests checked and put on the product's grid before
they become `OrderRequest`s.

A mistake in the strategy's request (an off-grid limit price, post-only on an order that cannot
rest, an unknown product) raises `ValueError` at once, naming the product, so it shows where it
was made. A request that is fine but cannot be sent now (warm-up, halted, reconciling, below the
product's minimum) returns None and is logged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from shared.messages.base import Side
from shared.messages.orders import OrderType, Purpose, TimeInForce
from shared.messages.products import ProductInfo
from shared.messages.strategy import SignalAction
from shared.money import ZERO, is_on_grid, round_to_increment, to_decimal
from shared.sdk.api import OrderView
from shared.sdk.book import SdkExit, SdkOrder, check_flags
from shared.strategies.types import CostModel, Decision, OrderRequest

if TYPE_CHECKING:
    from shared.sdk.runtime import Runner

EXIT_TAGS = ("stop_loss", "take_profit")


class LogLine(msgspec.Struct, frozen=True, kw_only=True):
    """A structured log line from the strategy (`Context.log`) or the framework about it."""

    event: str
    fields: dict[str, Any] = msgspec.field(default_factory=dict)
    ts_ns: int = 0


class Effects(msgspec.Struct, frozen=True, kw_only=True):
    """What one event asks of the outside: orders to send, orders to cancel (client order ids;
    send the cancels first, a replace relies on it), the strategy's signal, log lines, whether
    the book changed (snapshot now) and a reason code."""

    orders: tuple[OrderRequest, ...] = ()
    cancels: tuple[str, ...] = ()
    decision: Decision | None = None
    logs: tuple[LogLine, ...] = ()
    changed: bool = False
    reason: str = ""

    def then(self, later: Effects) -> Effects:
        """Both, in order (the later decision wins unless it is a hold)."""
        keep = later.decision
        if keep is None or (self.decision is not None and keep.action is SignalAction.HOLD):
            keep = self.decision
        return Effects(
            orders=self.orders + later.orders,
            cancels=self.cancels + later.cancels,
            decision=keep,
            logs=self.logs + later.logs,
            changed=self.changed or later.changed,
            reason=later.reason or self.reason,
        )


class Pending:
    """Effects gathered while one event is handled."""

    def __init__(self) -> None:
        self.orders: list[OrderRequest] = []
        self.cancels: list[str] = []
        self.logs: list[LogLine] = []
        self.decision: Decision | None = None
        self.changed = False
        self.reason = ""

    def log(self, event: str, ts_ns: int, **fields: Any) -> None:
        """Add a log line."""
        self.logs.append(LogLine(event=event, fields=fields, ts_ns=ts_ns))

    def effects(self) -> Effects:
        """Frozen; the reason defaults to the signal's."""
        decision = self.decision
        return Effects(
            orders=tuple(self.orders),
            cancels=tuple(self.cancels),
            decision=decision,
            logs=tuple(self.logs),
            changed=self.changed or bool(self.orders),
            reason=self.reason or (decision.reason if decision is not None else ""),
        )


class RunnerContext:
    """What the strategy sees and may do, over one `Runner`."""

    def __init__(self, runner: Runner) -> None:
        self._r = runner

    # ---- reads ----
    @property
    def now_ns(self) -> int:
        """The time of the event being handled."""
        return self._r.now

    @property
    def warming_up(self) -> bool:
        """History is being folded in."""
        return self._r.warming

    @property
    def costs(self) -> CostModel:
        """The fee tier and slippage the runner was last given."""
        return self._r.costs

    def product(self, product_id: str) -> ProductInfo:
        """Trading rules; a product the strategy did not declare is a mistake."""
        info = self._r.infos.get(product_id)
        if info is None:
            raise ValueError(f"{product_id}: not one of the strategy's products {self._r.products}")
        return info

    def price(self, product_id: str) -> Decimal | None:
        """Latest price seen."""
        return self._r.prices.get(product_id)

    def position(self, product_id: str) -> Decimal:
        """Signed position from fills."""
        return self._r.book.positions.get(product_id, ZERO)

    def open_orders(self, product_id: str | None = None) -> tuple[OrderView, ...]:
        """Live orders, oldest first."""
        return tuple(self._r.ledger.view(o) for o in self._r.ledger.live(product_id))

    def order(self, order_id: str) -> OrderView | None:
        """One order by client order id."""
        found = self._r.ledger.get(order_id)
        return self._r.ledger.view(found) if found is not None else None

    # ---- orders ----
    def buy(
        self,
        product_id: str,
        size: Decimal,
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        tag: str = "",
    ) -> OrderView | None:
        """A buy request."""
        return self._place(Side.BUY, product_id, size, limit, time_in_force, post_only, tag)

    def sell(
        self,
        product_id: str,
        size: Decimal,
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        tag: str = "",
    ) -> OrderView | None:
        """A sell request."""
        return self._place(Side.SELL, product_id, size, limit, time_in_force, post_only, tag)

    def close(self, product_id: str, *, tag: str = "close") -> OrderView | None:
        """Market order back to flat. Closing market orders still in flight count as done, so
        closing twice before the first close fills does not trade twice (orders that add to the
        position are not counted: they may never fill)."""
        self.product(product_id)
        net = position = self.position(product_id)
        for o in self._r.ledger.live(product_id):
            if o.limit_price is None and (o.side.sign > 0) != (position > ZERO):
                net += o.side.sign * o.remaining
        if net == ZERO or (net > ZERO) != (position > ZERO):
            return None
        side = Side.SELL if net > ZERO else Side.BUY
        return self._place(side, product_id, abs(net), None, TimeInForce.IOC, False, tag)

    def cancel(self, order_id: str) -> bool:
        """Ask to cancel a live order."""
        found = self._r.ledger.get(order_id)
        if found is None or found.state.is_terminal:
            return False
        self._r.out.cancels.append(order_id)
        return True

    def cancel_all(self, product_id: str | None = None) -> int:
        """Cancel every live order (of one product)."""
        return sum(self.cancel(view.id) for view in self.open_orders(product_id))

    def replace(
        self, order_id: str, *, limit: Decimal | None = None, size: Decimal | None = None
    ) -> OrderView | None:
        """Cancel a live limit order and send a new one; its size defaults to the old order's
        unfilled size. The new order is checked first: if it cannot be sent, the old one stays."""
        old = self._r.ledger.get(order_id)
        if old is None or old.state.is_terminal or old.limit_price is None:
            return None
        new = self._place(
            old.side,
            old.product_id,
            old.remaining if size is None else size,
            old.limit_price if limit is None else limit,
            old.time_in_force,
            old.post_only,
            old.tag,
        )
        if new is not None:
            self._r.out.cancels.append(order_id)
        return new

    def exits(
        self, product_id: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> None:
        """Set (or clear) the framework-tracked exits of a product."""
        self.product(product_id)
        levels = [
            to_decimal(v, field=f"{product_id} exit") for v in (stop_loss, take_profit) if v is not None
        ]
        if any(v <= ZERO for v in levels):
            raise ValueError(f"{product_id}: exit prices must be positive")
        if stop_loss is None and take_profit is None:
            self._r.book.exits.pop(product_id, None)
        else:
            self._r.book.exits[product_id] = SdkExit(stop_loss=stop_loss, take_profit=take_profit)
        self._r.out.changed = True

    def round_price(self, product_id: str, price: Decimal, side: Side) -> Decimal:
        """On the grid, passive side."""
        increment = self.product(product_id).price_increment
        return round_to_increment(price, increment, mode="down" if side is Side.BUY else "up")

    # ---- reporting ----
    def signal(self, action: SignalAction, *, value: float = 0.0, reason: str = "") -> None:
        """Kept as the event's decision: the last non-hold one wins over holds."""
        decision = Decision(action=SignalAction(action), value=float(value), reason=reason)
        current = self._r.out.decision
        if current is None or current.action is SignalAction.HOLD or action is not SignalAction.HOLD:
            self._r.out.decision = decision

    def log(self, event: str, **fields: Any) -> None:
        """A log line for the instance (or the backtest report)."""
        self._r.out.log(event, self._r.now, **fields)

    # ---- internals ----
    def _place(
        self,
        side: Side,
        product_id: str,
        size: Decimal,
        limit: Decimal | None,
        time_in_force: TimeInForce,
        post_only: bool,
        tag: str,
    ) -> OrderView | None:
        info = self.product(product_id)
        size = to_decimal(size, field=f"{product_id} size")
        if size <= ZERO:
            raise ValueError(f"{product_id}: order size must be positive, got {size}")
        if limit is not None:
            limit = to_decimal(limit, field=f"{product_id} limit price")
            if limit <= ZERO or not is_on_grid(limit, info.price_increment):
                raise ValueError(
                    f"{product_id}: limit price {limit} is not on the price grid "
                    f"(increment {info.price_increment}); use round_price"
                )
        check_flags(product_id, limit, time_in_force, post_only)
        refusal = self._r.refusal()
        if refusal:
            self.log("order_refused", reason=refusal, product_id=product_id, side=side.value, tag=tag)
            return None
        size = round_to_increment(size, info.base_increment)
        price = limit if limit is not None else self.price(product_id)
        small = info.unsendable(size, price)
        if small:
            self.log("order_too_small", reason=small, product_id=product_id, size=str(size), tag=tag)
            return None
        position = self.position(product_id)
        reduces = position != ZERO and (position > ZERO) != (side is Side.BUY)
        order = SdkOrder(
            seq=self._r.book.next_seq,
            leg=self._r.products.index(product_id) + 1,
            product_id=product_id,
            side=side,
            size=size,
            limit_price=limit,
            time_in_force=time_in_force if limit is not None else TimeInForce.IOC,
            post_only=post_only,
            purpose=Purpose.EXIT if reduces else Purpose.ENTRY,
            tag=tag,
            sent_ns=self._r.now,
        )
        self._r.ledger.add(order)
        self._r.out.orders.append(
            OrderRequest(
                seq=order.seq,
                leg=order.leg,
                side=side,
                size=size,
                purpose=order.purpose,
                reference_price=price if price is not None else ZERO,
                reason=tag,
                order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
                limit_price=limit,
                time_in_force=order.time_in_force,
                post_only=post_only,
            )
        )
        return self._r.ledger.view(order)
