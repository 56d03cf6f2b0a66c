"""ProductInfo.unsendable: the one rule for why a size and price cannot go to the venue."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from shared.messages.products import ProductInfo

BTC = ProductInfo(
    venue="coinbase",
    product_id="BTC-USD",
    base_increment=D("0.001"),
    price_increment=D("0.01"),
    base_min_size=D("0.002"),
    min_notional=D("1"),
)
FUTURE = ProductInfo(
    venue="coinbase",
    product_id="BIP-20DEC30-CDE",
    base_increment=D("1"),
    price_increment=D("5"),
    base_min_size=D("1"),
    min_notional=D("10"),
    contract_size=D("0.01"),
    is_future=True,
)


@pytest.mark.parametrize(
    ("size", "price", "reason"),
    [
        ("0", "100", "size_rounds_to_zero"),
        ("-1", "100", "size_rounds_to_zero"),
        ("0.001", "10000", "below_min_size"),
        ("0.002", "499.99", "below_min_notional"),
        ("0.002", "500", ""),
        ("0.002", None, ""),
        ("0.002", "NaN", ""),
        ("0.002", "Infinity", ""),
        ("0.002", "0", ""),
    ],
)
def test_the_size_and_notional_minimums(size: str, price: str | None, reason: str) -> None:
    assert BTC.unsendable(D(size), None if price is None else D(price)) == reason


def test_the_notional_of_a_future_counts_its_contract_size() -> None:
    assert FUTURE.unsendable(D(1), D(999)) == "below_min_notional"
    assert FUTURE.unsendable(D(1), D(1000)) == ""


def test_no_minimums_means_any_positive_size_goes() -> None:
    bare = ProductInfo(venue="v", product_id="X", base_increment=D("1"), price_increment=D("1"))
    assert bare.unsendable(D(1), D("0.0001")) == ""
