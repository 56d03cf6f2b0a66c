"""Numbers for people and for JSON: `display` rounds onto a product's grid, `plain` keeps every digit;
neither ever writes an exponent or a minus zero."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.errors import MoneyError
from shared.money import display, plain


@pytest.mark.parametrize(
    ("value", "increment", "shown"),
    [
        ("-169.3241910719745", "0.01", "-169.32"),  # PnL as the view used to print it
        ("0E-8", "0.00000001", "0.00000000"),  # a flat position on the base increment
        ("0E-8", "0.01", "0.00"),
        ("-0.001", "0.01", "0.00"),  # rounds to zero: no minus zero
        ("0.125", "0.01", "0.13"),  # ties away from zero, as people round
        ("-0.125", "0.01", "-0.13"),
        ("1E+3", "0.01", "1000.00"),
        ("101237", "5", "101235"),  # a futures price on a 5-dollar tick
        ("0.3", "0.25", "0.25"),
        ("12.5", "1", "13"),
        ("0.123456789", "1E-8", "0.12345679"),
    ],
)
def test_display_rounds_onto_the_grid_with_the_increments_decimals(
    value: str, increment: str, shown: str
) -> None:
    assert display(Decimal(value), Decimal(increment)) == shown


def test_display_refuses_a_non_positive_increment() -> None:
    with pytest.raises(MoneyError, match="increment must be positive"):
        display(Decimal(1), Decimal(0))


@pytest.mark.parametrize(
    ("value", "exact"),
    [
        ("0E-8", "0.00000000"),
        ("1E-8", "0.00000001"),
        ("-169.3241910719745", "-169.3241910719745"),
        ("1E+3", "1000"),
    ],
)
def test_plain_keeps_every_digit_without_an_exponent(value: str, exact: str) -> None:
    assert plain(Decimal(value)) == exact
