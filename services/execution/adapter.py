"""The one Protocol both venues implement, and the sink they report through.

An adapter turns approved `Order`s into venue actions and reports every outcome through a
`ReportSink` *before* `place` returns: the service acks the work-queue message only after that, so an
order whose outcome was not recorded is redelivered (and then looked up, never placed twice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from shared.messages import CancelRequest, FeeRates, Fill, Order, OrderEvent, OrderStatus, ProductInfo


class ReportSink(Protocol):
    """Where adapters record outcomes; the service publishes them durably (awaiting the ack)."""

    async def order_event(self, event: OrderEvent) -> None:
        """Record one order-state change."""

    async def fill(self, fill: Fill) -> None:
        """Record one execution."""


class ExecutionAdapter(Protocol):
    """A venue as the execution service sees it; `paper` and `live` implement it side by side."""

    venue: str
    """Venue id used in subjects and messages."""

    async def start(self, sink: ReportSink) -> None:
        """Connect, restore state, start background loops (fill polling, market data)."""

    async def stop(self) -> None:
        """Stop background loops; state is already persisted."""

    async def fee_rates(self) -> FeeRates:
        """The account's current fee tier (spot and futures)."""

    async def products(self) -> list[ProductInfo]:
        """The venue's trading rules, for KV `products`."""

    async def resume(self, order: Order, *, redelivered: bool) -> bool:
        """True when the venue already has this `client_order_id` (its state is then re-reported).

        With `redelivered`, the venue itself is asked; otherwise only local records are checked.
        """

    async def place(self, order: Order) -> OrderStatus:
        """Place the order and record its outcome (accepted/filled/rejected/unknown); return it."""

    async def cancel(self, request: CancelRequest) -> None:
        """Cancel the named orders, or every open one (of a strategy) when none are named."""

    async def owner(self, client_order_id: str) -> str | None:
        """The strategy of the order recorded under this id, None when this venue has no record
        of it (not placed yet, or never): a strategy may cancel only its own orders."""


def make_event(
    order: Order,
    status: OrderStatus,
    now_ns: int,
    *,
    venue_order_id: str = "",
    filled_size: Decimal = Decimal(0),
    average_price: Decimal | None = None,
    reason: str = "",
) -> OrderEvent:
    """An `OrderEvent` for `order`; one place so both adapters fill the fields the same way."""
    return OrderEvent(
        client_order_id=order.client_order_id,
        venue_order_id=venue_order_id,
        strategy_id=order.strategy_id,
        venue=order.venue,
        product_id=order.product_id,
        side=order.side,
        status=status,
        size=order.size,
        filled_size=filled_size,
        average_price=average_price,
        reason=reason,
        event_ns=now_ns,
    )
