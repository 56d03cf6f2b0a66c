"""The venue's raw JSON (Structs in `shared.coinbase.schemas`, shared with execution) parsed into the
core's types. A field we cannot read changes nothing.

The conversions are kept in this package on purpose: reconciliation must read the venue
independently of execution's adapter (it exists to catch what that adapter missed); only the wire
shapes and protocol parsing are shared.
"""

from __future__ import annotations

from decimal import Decimal

from services.reconciliation.model import ProductRef, VenueFill, VenueOrder
from shared.coinbase.parse import OPEN_STATUSES as OPEN_STATUSES
from shared.coinbase.parse import dec_or_zero, rfc3339_ns
from shared.coinbase.parse import order_status as venue_order_status
from shared.coinbase.schemas import RestFill, RestOrder, RestPosition, RestProduct
from shared.messages import Liquidity, OrderStatus, Side
from shared.money import ZERO


def order_status(raw: RestOrder) -> OrderStatus:
    """The venue status as ours; an open order with fills is partially filled."""
    return venue_order_status(raw.status, dec_or_zero(raw.filled_size))


def side_of(raw: str) -> Side:
    """BUY or SELL (anything else reads as BUY; the venue only sends these two)."""
    return Side.SELL if raw.upper() == "SELL" else Side.BUY


def to_order(raw: RestOrder, fills: tuple[VenueFill, ...] = ()) -> VenueOrder:
    """A venue order for the core."""
    status = order_status(raw)
    reason = (
        raw.cancel_message if status is OrderStatus.CANCELLED else raw.reject_message or raw.reject_reason
    )
    average = dec_or_zero(raw.average_filled_price)
    return VenueOrder(
        order_id=raw.order_id,
        client_order_id=raw.client_order_id,
        product_id=raw.product_id,
        side=side_of(raw.side),
        status=status,
        filled_size=dec_or_zero(raw.filled_size),
        average_price=average if average > ZERO else None,
        reason=reason if status in (OrderStatus.CANCELLED, OrderStatus.REJECTED) else "",
        created_ns=rfc3339_ns(raw.created_time),
        fills=fills,
    )


def fill_time_ns(raw: RestFill) -> int:
    """When the venue sequenced a fill (falls back to the trade time)."""
    return rfc3339_ns(raw.sequence_timestamp) or rfc3339_ns(raw.trade_time)


def to_fill(raw: RestFill, client_order_id: str) -> VenueFill:
    """A venue fill for the core (commission is in quote currency)."""
    return VenueFill(
        trade_id=raw.trade_id,
        order_id=raw.order_id,
        client_order_id=client_order_id,
        product_id=raw.product_id,
        side=side_of(raw.side),
        price=dec_or_zero(raw.price),
        size=dec_or_zero(raw.size),
        commission=dec_or_zero(raw.commission),
        liquidity=Liquidity.MAKER if raw.liquidity_indicator.upper() == "MAKER" else Liquidity.TAKER,
        time_ns=fill_time_ns(raw),
    )


def _quote(product_id: str) -> str:
    parts = product_id.split("-")
    return parts[1] if len(parts) > 1 else "USD"


def to_product(raw: RestProduct) -> ProductRef:
    """Futures or spot, base currency and size grid."""
    increment = dec_or_zero(raw.base_increment)
    return ProductRef(
        product_id=raw.product_id,
        is_future=raw.product_type.upper() == "FUTURE",
        base_currency=raw.base_currency_id or raw.product_id.split("-")[0],
        base_increment=increment if increment > ZERO else Decimal("0.00000001"),
        quote_currency=raw.quote_currency_id or _quote(raw.product_id),
    )


def signed_contracts(raw: RestPosition) -> Decimal:
    """Long positive, short negative."""
    count = dec_or_zero(raw.number_of_contracts)
    return -count if raw.side.upper() == "SHORT" else count
