"""Venue strings → Python values: decimals (never NaN or infinite), RFC3339 times, order statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.errors import MoneyError
from shared.messages import OrderStatus
from shared.money import to_decimal

ZERO = Decimal(0)

OPEN_STATUSES = ("CANCEL_QUEUED", "EDIT_QUEUED", "OPEN", "PENDING", "QUEUED")
"""Every venue status an order can still trade or be cancelled in (`OPEN` alone misses some, §2.4)."""

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
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return 0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000 + frac_ns


def to_rfc3339(ns: int) -> str:
    """Integer ns → RFC3339 with microseconds and a Z (what query parameters take)."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_status(status: str, filled: Decimal) -> OrderStatus:
    """Our lifecycle status of a venue order status, given how much of it is filled."""
    upper = status.upper()
    if upper in _TERMINAL:
        return _TERMINAL[upper]
    if upper in OPEN_STATUSES:
        return OrderStatus.PARTIALLY_FILLED if filled > ZERO else OrderStatus.ACCEPTED
    return OrderStatus.UNKNOWN
