"""Venue strings → Python values: decimals (never NaN or infinite), RFC3339 times, order statuses."""

from __future__ import annotations

from decimal import Decimal

from shared.errors import MoneyError
from shared.messages import OrderStatus
from shared.money import ZERO, to_decimal
from shared.timefmt import format_rfc3339, parse_rfc3339_ns

OPEN_STATUSES = ("CANCEL_QUEUED", "EDIT_QUEUED", "OPEN", "PENDING", "QUEUED")
"""Every venue status an order can still trade or be cancelled in (`OPEN` alone misses some)."""

_TERMINAL = {
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.EXPIRED,
    "FAILED": OrderStatus.REJECTED,
}


def dec(raw: str | None, field: str) -> Decimal:
    """A venue decimal string ('' counts as 0); a malformed, NaN or infinite one raises `MoneyError`."""
    if raw is None or raw == "":
        return ZERO
    return to_decimal(raw, field=field)


def dec_or_zero(raw: str | None) -> Decimal:
    """A venue decimal string where a value we cannot read (garbage, NaN, inf) counts as 0."""
    try:
        return dec(raw, "value")
    except MoneyError:
        return ZERO


def rfc3339_ns(raw: str) -> int:
    """RFC3339 (with up to nanosecond fractions; no offset means UTC) → integer ns; '' or malformed → 0."""
    try:
        return parse_rfc3339_ns(raw.strip()) if raw else 0
    except ValueError:
        return 0


def to_rfc3339(ns: int) -> str:
    """Integer ns → RFC3339 with microseconds and a Z (what query parameters take)."""
    return format_rfc3339(ns, digits=6)


def order_status(status: str, filled: Decimal) -> OrderStatus:
    """Our lifecycle status of a venue order status, given how much of it is filled."""
    upper = status.upper()
    if upper in _TERMINAL:
        return _TERMINAL[upper]
    if upper in OPEN_STATUSES:
        return OrderStatus.PARTIALLY_FILLED if filled > ZERO else OrderStatus.ACCEPTED
    return OrderStatus.UNKNOWN
