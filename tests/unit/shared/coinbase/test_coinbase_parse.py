"""`shared.coinbase.parse`: venue decimals, RFC3339 times and venue order statuses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.coinbase.parse import (
    OPEN_STATUSES,
    dec,
    dec_or_zero,
    order_status,
    rfc3339_ns,
    to_rfc3339,
)
from shared.errors import MoneyError
from shared.messages import OrderStatus


def test_dec_reads_venue_strings_and_refuses_what_is_not_a_finite_number() -> None:
    assert dec("0.00000001", "size") == Decimal("0.00000001")
    assert dec(" 12.5 ", "price") == Decimal("12.5")
    assert dec("", "size") == Decimal(0)
    assert dec(None, "size") == Decimal(0)
    for bad in ("NaN", "inf", "-Infinity", "sNaN", "1.2.3", "abc"):
        with pytest.raises(MoneyError, match="fee"):
            dec(bad, "fee")


@pytest.mark.parametrize("bad", ["NaN", "inf", "-inf", "garbage", "  ", "", None])
def test_dec_or_zero_reads_what_it_cannot_use_as_zero(bad: str | None) -> None:
    assert dec_or_zero(bad) == Decimal(0)
    assert dec_or_zero("-3.25") == Decimal("-3.25")


def test_rfc3339_keeps_nanoseconds_and_offsets() -> None:
    base = 1_622_455_199_000_000_000  # 2021-05-31T09:59:59Z
    assert rfc3339_ns("2021-05-31T09:59:59Z") == base
    assert rfc3339_ns("2021-05-31T09:59:59+00:00") == base
    assert rfc3339_ns("2021-05-31T11:59:59+02:00") == base
    assert rfc3339_ns("2021-05-31T09:59:59.000000001Z") == base + 1
    assert rfc3339_ns("2021-05-31T09:59:59.5Z") == base + 500_000_000
    assert rfc3339_ns("2021-05-31T09:59:59.1234567891Z") == base + 123_456_789  # past ns: cut
    assert rfc3339_ns("2021-05-31T09:59:59") == base  # no offset reads as UTC


@pytest.mark.parametrize("bad", ["", "garbage", "2021-13-01T00:00:00Z", "yesterday.5Z"])
def test_rfc3339_unreadable_is_zero(bad: str) -> None:
    assert rfc3339_ns(bad) == 0


def test_to_rfc3339_round_trips_at_microseconds() -> None:
    ns = 1_622_455_199_123_456_000
    assert to_rfc3339(ns) == "2021-05-31T09:59:59.123456Z"
    assert rfc3339_ns(to_rfc3339(ns)) == ns


def test_venue_statuses_map_to_ours() -> None:
    zero, some = Decimal(0), Decimal("0.1")
    assert order_status("FILLED", zero) is OrderStatus.FILLED
    assert order_status("cancelled", some) is OrderStatus.CANCELLED
    assert order_status("EXPIRED", zero) is OrderStatus.EXPIRED
    assert order_status("FAILED", zero) is OrderStatus.REJECTED
    for status in OPEN_STATUSES:
        assert order_status(status, zero) is OrderStatus.ACCEPTED
        assert order_status(status, some) is OrderStatus.PARTIALLY_FILLED
    assert order_status("UNKNOWN_ORDER_STATUS", zero) is OrderStatus.UNKNOWN
    assert set(OPEN_STATUSES) == {"OPEN", "PENDING", "QUEUED", "CANCEL_QUEUED", "EDIT_QUEUED"}
