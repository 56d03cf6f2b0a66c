"""One home per concept: times, the throttle, venue errors and enums, and the CLI's exit."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import typer

from services.cli.exits import error_exit
from shared.coinbase.parse import rfc3339_ns, to_rfc3339
from shared.errors import OrderRejectedError, VenueError
from shared.messages import Liquidity, OrderType, Side
from shared.throttle import Throttle
from shared.timefmt import format_rfc3339, parse_rfc3339_ns
from shared.venue import CoinbaseTimeInForce, UnknownOrderError, Venue, default_products, parse_order_request

NOW = 1_764_000_000_123_456_789


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-24T16:00:00.123456789Z", NOW),
        ("2025-11-24T17:00:00.123456789+01:00", NOW),
        ("2025-11-24T16:00:00.123456789", NOW),  # no zone reads as UTC
        ("2025-11-24 16:00:00.1234567891Z", NOW),  # past nanoseconds: cut
        ("2025-11-24T16:00:00Z", NOW - 123_456_789),
    ],
)
def test_parse_keeps_nanoseconds_and_offsets(text: str, expected: int) -> None:
    assert parse_rfc3339_ns(text) == expected


@pytest.mark.parametrize(
    "bad", ["", "garbage", "2025-02-30T00:00:00Z", "2025-11-24T16:00:00.Z", "2025-11-24T16:00:00+1"]
)
def test_parse_refuses_what_is_not_rfc3339(bad: str) -> None:
    with pytest.raises(ValueError, match="bad timestamp"):
        parse_rfc3339_ns(bad)


def test_format_cuts_to_the_digits_asked_and_round_trips() -> None:
    assert format_rfc3339(NOW) == "2025-11-24T16:00:00.123456789Z"
    assert format_rfc3339(NOW, digits=6) == "2025-11-24T16:00:00.123456Z"
    assert format_rfc3339(NOW, digits=0) == "2025-11-24T16:00:00Z"
    assert parse_rfc3339_ns(format_rfc3339(NOW)) == NOW
    assert rfc3339_ns(to_rfc3339(NOW)) == NOW - 789  # the venue's query format keeps microseconds


def test_a_gtd_end_time_keeps_its_nanoseconds() -> None:
    body = {
        "client_order_id": "gtd",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {
            "limit_limit_gtd": {"base_size": "0.1", "limit_price": "100", "end_time": format_rfc3339(NOW)}
        },
    }
    request = parse_order_request(body)
    assert request.end_time_ns == NOW
    assert request.time_in_force is CoinbaseTimeInForce.GTD


def test_throttle_take_answers_at_once_with_a_burst() -> None:
    throttle = Throttle(2)
    assert [throttle.take(10.0) for _ in range(3)] == [True, True, False]
    assert not throttle.take(10.4)
    assert throttle.take(10.5)  # 0.5 s × 2/s = one token


async def test_throttle_acquire_waits_its_turn() -> None:
    throttle = Throttle(20, burst=1)
    start = time.monotonic()
    for _ in range(3):
        await throttle.acquire()
    assert time.monotonic() - start >= 0.09  # two waits of 1/20 s after the one-token burst


def test_the_venue_core_speaks_the_bus_vocabulary() -> None:
    venue = Venue(default_products(NOW), seed=1)
    venue.account("me").set_balance("USD", Decimal(1000))
    venue.set_liquidity("BTC-USD", bids=[], asks=[(Decimal(100), Decimal(1))], now_ns=NOW)
    body = {
        "client_order_id": "c1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"market_market_ioc": {"base_size": "0.1"}},
    }
    result = venue.submit(parse_order_request(body, account_id="me"), NOW)
    assert result.order.request.side is Side.BUY
    assert result.order.request.order_type is OrderType.MARKET
    assert [f.liquidity for f in result.fills if f.account_id == "me"] == [Liquidity.TAKER]


def test_venue_errors_share_one_base() -> None:
    venue = Venue(default_products(NOW), seed=1)
    with pytest.raises(OrderRejectedError) as rejected:
        venue.submit(parse_order_request({"side": "SIDEWAYS"}), NOW)
    assert isinstance(rejected.value, VenueError)
    assert rejected.value.reason == "INVALID_SIDE"
    with pytest.raises(VenueError):
        venue.order("missing")
    assert issubclass(UnknownOrderError, KeyError)


def test_error_exit_prints_one_line_and_is_raised_by_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = error_exit("no such file: x.toml", 3)
    assert isinstance(exit_, typer.Exit)
    assert exit_.exit_code == 3
    assert capsys.readouterr().err == "error: no such file: x.toml\n"
