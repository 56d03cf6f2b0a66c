"""Structs for the venue's raw JSON the live reader needs (reference §2.4, §2.6–2.8, §2.12), and
their parsing into the core's types. Unknown fields are ignored: the venue adds fields freely.

Kept in this package on purpose: reconciliation must read the venue independently of execution's
adapter (it exists to catch what that adapter missed).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from services.reconciliation.model import ZERO, ProductRef, VenueFill, VenueOrder
from shared.messages import Liquidity, OrderStatus, Side


class _Raw(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every raw venue struct."""


class Money(_Raw, frozen=True, kw_only=True):
    """`{value, currency}`."""

    value: str = "0"
    currency: str = ""


class RawAccount(_Raw, frozen=True, kw_only=True):
    """One wallet of `GET /accounts` (§2.7)."""

    currency: str
    available_balance: Money = msgspec.field(default_factory=Money)
    hold: Money | None = None


class AccountsPage(_Raw, frozen=True, kw_only=True):
    """One page of wallets."""

    accounts: list[RawAccount] = msgspec.field(default_factory=list)
    has_next: bool = False
    cursor: str = ""


class RawPosition(_Raw, frozen=True, kw_only=True):
    """One `GET /cfm/positions` entry (§2.12); prices may be strings or money objects (unused)."""

    product_id: str
    side: str = ""
    number_of_contracts: str = "0"


class PositionsPage(_Raw, frozen=True, kw_only=True):
    """`{"positions": [...]}`."""

    positions: list[RawPosition] = msgspec.field(default_factory=list)


class RawOrder(_Raw, frozen=True, kw_only=True):
    """One order of `GET /orders/historical/{id}` or the batch list (§2.4)."""

    order_id: str
    product_id: str = ""
    side: str = ""
    client_order_id: str = ""
    status: str = ""
    filled_size: str = "0"
    average_filled_price: str = "0"
    cancel_message: str = ""
    reject_message: str = ""
    reject_reason: str = ""
    created_time: str = ""


class OrderReply(_Raw, frozen=True, kw_only=True):
    """`{"order": Order}`."""

    order: RawOrder


class OrdersPage(_Raw, frozen=True, kw_only=True):
    """One page of the batch order list."""

    orders: list[RawOrder] = msgspec.field(default_factory=list)
    has_next: bool = False
    cursor: str = ""


class RawFill(_Raw, frozen=True, kw_only=True):
    """One fill of `GET /orders/historical/fills` (§2.6): the authoritative record."""

    trade_id: str
    order_id: str
    product_id: str = ""
    price: str
    size: str
    commission: str = "0"
    liquidity_indicator: str = ""
    side: str = ""
    trade_time: str = ""
    sequence_timestamp: str = ""
    size_in_quote: bool = False


class FillsPage(_Raw, frozen=True, kw_only=True):
    """One page of fills, newest first; an empty cursor ends the list."""

    fills: list[RawFill] = msgspec.field(default_factory=list)
    cursor: str = ""


class RawProduct(_Raw, frozen=True, kw_only=True):
    """One product of `GET /products` (§2.8)."""

    product_id: str
    product_type: str = "SPOT"
    base_currency_id: str = ""
    quote_currency_id: str = ""
    base_increment: str = "0.00000001"


class ProductsPage(_Raw, frozen=True, kw_only=True):
    """`{"products": [...]}`."""

    products: list[RawProduct] = msgspec.field(default_factory=list)


def decode(data: Any, kind: type[msgspec.Struct]) -> Any:
    """Raw JSON (a dict from the SDK) → a schema Struct."""
    return msgspec.convert(data, kind, strict=False)


def dec(raw: str | None) -> Decimal:
    """A venue decimal string ('' and garbage read as zero: a field we cannot read changes nothing)."""
    try:
        value = Decimal(raw or "0")
    except InvalidOperation:
        return ZERO
    return value if value.is_finite() else ZERO


def rfc3339_ns(raw: str) -> int:
    """RFC3339 with up to nanosecond fractions → integer ns; '' or malformed → 0."""
    if not raw:
        return 0
    text = raw.strip().replace("Z", "+00:00")
    frac_ns = 0
    if "." in text:
        head, rest = text.split(".", 1)
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        text = head + rest[len(digits) :]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return 0
    return int(moment.timestamp()) * 1_000_000_000 + frac_ns


_OPEN = {"OPEN", "PENDING", "QUEUED", "CANCEL_QUEUED", "EDIT_QUEUED"}
_TERMINAL = {
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.EXPIRED,
    "FAILED": OrderStatus.REJECTED,
}
OPEN_STATUSES = tuple(sorted(_OPEN))
"""Every venue status an order can still trade or be cancelled in (`OPEN` alone misses some, §2.4)."""


def order_status(raw: RawOrder) -> OrderStatus:
    """The venue status as ours; an open order with fills is partially filled."""
    status = raw.status.upper()
    if status in _TERMINAL:
        return _TERMINAL[status]
    if status in _OPEN:
        return OrderStatus.PARTIALLY_FILLED if dec(raw.filled_size) > ZERO else OrderStatus.ACCEPTED
    return OrderStatus.UNKNOWN


def side_of(raw: str) -> Side:
    """BUY or SELL (anything else reads as BUY; the venue only sends these two)."""
    return Side.SELL if raw.upper() == "SELL" else Side.BUY


def to_order(raw: RawOrder, fills: tuple[VenueFill, ...] = ()) -> VenueOrder:
    """A venue order for the core."""
    status = order_status(raw)
    reason = (
        raw.cancel_message if status is OrderStatus.CANCELLED else raw.reject_message or raw.reject_reason
    )
    average = dec(raw.average_filled_price)
    return VenueOrder(
        order_id=raw.order_id,
        client_order_id=raw.client_order_id,
        product_id=raw.product_id,
        side=side_of(raw.side),
        status=status,
        filled_size=dec(raw.filled_size),
        average_price=average if average > ZERO else None,
        reason=reason if status in (OrderStatus.CANCELLED, OrderStatus.REJECTED) else "",
        created_ns=rfc3339_ns(raw.created_time),
        fills=fills,
    )


def fill_time_ns(raw: RawFill) -> int:
    """When the venue sequenced a fill (falls back to the trade time)."""
    return rfc3339_ns(raw.sequence_timestamp) or rfc3339_ns(raw.trade_time)


def to_fill(raw: RawFill, client_order_id: str) -> VenueFill:
    """A venue fill for the core (commission is in quote currency, §2.6)."""
    return VenueFill(
        trade_id=raw.trade_id,
        order_id=raw.order_id,
        client_order_id=client_order_id,
        product_id=raw.product_id,
        side=side_of(raw.side),
        price=dec(raw.price),
        size=dec(raw.size),
        commission=dec(raw.commission),
        liquidity=Liquidity.MAKER if raw.liquidity_indicator.upper() == "MAKER" else Liquidity.TAKER,
        time_ns=fill_time_ns(raw),
    )


def _quote(product_id: str) -> str:
    parts = product_id.split("-")
    return parts[1] if len(parts) > 1 else "USD"


def to_product(raw: RawProduct) -> ProductRef:
    """Futures or spot, base currency and size grid."""
    increment = dec(raw.base_increment)
    return ProductRef(
        product_id=raw.product_id,
        is_future=raw.product_type.upper() == "FUTURE",
        base_currency=raw.base_currency_id or raw.product_id.split("-")[0],
        base_increment=increment if increment > ZERO else Decimal("0.00000001"),
        quote_currency=raw.quote_currency_id or _quote(raw.product_id),
    )


def signed_contracts(raw: RawPosition) -> Decimal:
    """Long positive, short negative."""
    count = dec(raw.number_of_contracts)
    return -count if raw.side.upper() == "SHORT" else count
