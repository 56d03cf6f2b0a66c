"""Bad tickers are refused with a reason and a metric before any consumer trusts them."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from shared import codec
from shared.messages import Ticker
from shared.quotes import BAD_TICKS, quote_problem, usable
from shared.testing.samples import every_message

GOOD = next(m for m in every_message() if isinstance(m, Ticker))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"bid": Decimal("NaN")}, "not_finite"),
        ({"ask": Decimal("Infinity")}, "not_finite"),
        ({"last": Decimal("-Infinity")}, "not_finite"),
        ({"bid": Decimal("-1")}, "not_positive"),
        ({"ask": Decimal("0")}, "not_positive"),
        ({"bid": Decimal("97001"), "ask": Decimal("97000")}, "crossed"),
    ],
)
def test_quote_problems(changes: dict[str, Decimal], problem: str | None) -> None:
    assert quote_problem(msgspec.structs.replace(GOOD, **changes)) == problem


def test_a_nan_off_the_wire_is_refused_and_counted() -> None:
    raw = msgspec.msgpack.encode({**msgspec.to_builtins(GOOD), "bid": "NaN"})
    ticker = codec.decode(raw, Ticker)  # the codec accepts it: Decimal has a NaN
    before = BAD_TICKS.labels("not_finite")._value.get()
    assert not usable(ticker)
    assert BAD_TICKS.labels("not_finite")._value.get() == before + 1
    assert usable(GOOD)
