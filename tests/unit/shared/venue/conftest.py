"""Fixtures for the pure venue core: a venue with a known BTC-USD book and a funded account."""

from __future__ import annotations

import pytest

from shared.venue import Venue, default_products

from .helpers import ME, NOW, D


@pytest.fixture
def venue() -> Venue:
    v = Venue(default_products(NOW), seed=7)
    acct = v.account(ME)
    acct.set_balance("USD", D("100000"))
    acct.set_balance("BTC", D("2"))
    v.set_liquidity(
        "BTC-USD",
        bids=[(D("99.00"), D("1")), (D("98.00"), D("2"))],
        asks=[(D("101.00"), D("1")), (D("102.00"), D("2"))],
        now_ns=NOW,
    )
    v.drain_events()
    return v
