"""Venue → domain parsing: timestamps, number checks, ticker and trade normalization."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.marketdata.errors import MalformedMessageError
from services.marketdata.parse import checked, rfc3339_ns, to_trade
from services.marketdata.schemas import TradeItem
from shared.messages import Side


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-02-09T20:32:50.714964855Z", 1_675_974_770_714_964_855),
        ("2023-02-09T20:32:50Z", 1_675_974_770_000_000_000),
        ("2023-02-09T20:32:50.5Z", 1_675_974_770_500_000_000),
        ("2023-02-09T21:32:50.5+01:00", 1_675_974_770_500_000_000),
        ("2023-02-09T20:32:50.1234567891234Z", 1_675_974_770_123_456_789),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_rfc3339_to_epoch_ns(text: str, expected: int) -> None:
    assert rfc3339_ns(text) == expected


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2023-02-30T00:00:00Z", "2023-02-09T20:32:50.Z", "2023-02-09T20:32:50+5"]
)
def test_bad_timestamps_are_malformed(text: str) -> None:
    with pytest.raises(MalformedMessageError):
        rfc3339_ns(text)


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", "-0.01"])
def test_non_finite_or_negative_numbers_are_malformed(value: str) -> None:
    with pytest.raises(MalformedMessageError):
        checked(Decimal(value), "price")


def test_zero_and_positive_numbers_pass() -> None:
    assert checked(Decimal("0"), "size") == 0
    assert checked(Decimal("21932.98"), "price") == Decimal("21932.98")


@pytest.mark.parametrize(("maker", "taker"), [("BUY", Side.SELL), ("SELL", Side.BUY), ("sell", Side.BUY)])
def test_trade_side_is_the_takers_side(maker: str, taker: Side) -> None:
    item = TradeItem("1", "BTC-USD", Decimal("10"), Decimal("1"), maker, "2019-08-14T20:42:27.265Z")
    trade = to_trade(item, "coinbase", 5)
    assert trade.side is taker
    assert trade.exchange_time_ns == 1_565_815_347_265_000_000
    assert trade.receive_time_ns == 5


def test_an_unknown_trade_side_is_malformed() -> None:
    item = TradeItem("1", "BTC-USD", Decimal("10"), Decimal("1"), "UNKNOWN", "2019-08-14T20:42:27Z")
    with pytest.raises(MalformedMessageError):
        to_trade(item, "coinbase", 5)
