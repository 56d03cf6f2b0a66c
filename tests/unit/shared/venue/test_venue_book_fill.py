"""`book_fill` books a fill exactly as matching did: a restarted paper venue replays fills with it."""

from __future__ import annotations

import pytest

from shared.venue import Account, Venue, book_fill, default_products

from .helpers import ME, NOW, D, market, req


@pytest.mark.parametrize(
    ("product", "trades"),
    [
        ("BTC-USD", [("BUY", "0.5"), ("SELL", "0.2")]),
        ("BIP-20DEC30-CDE", [("BUY", "3"), ("SELL", "5"), ("BUY", "1")]),  # opens, flips, reduces
    ],
)
def test_replaying_the_fills_gives_the_account_matching_gave(
    product: str, trades: list[tuple[str, str]]
) -> None:
    venue = Venue(default_products(NOW), seed=3)
    venue.account(ME).set_balance("USD", D("1000000"))
    venue.account(ME).set_balance("BTC", D("1"))
    info = venue.products[product]
    venue.set_liquidity(product, bids=[(D("90000"), D("100"))], asks=[(D("90010"), D("100"))], now_ns=NOW)
    for side, size in trades:
        venue.submit(req(market(base=size), side=side, product=product), NOW)
    fills = [f for f in venue.drain_events().fills if f.account_id == ME]
    assert len(fills) == len(trades)

    replayed = Account(account_id=ME)
    replayed.set_balance("USD", D("1000000"))
    replayed.set_balance("BTC", D("1"))
    for fill in fills:
        book_fill(replayed, info, fill.side, fill.size, fill.price, fill.commission)

    matched = venue.account(ME)
    assert replayed.balances == matched.balances
    assert replayed.holds == matched.holds  # market orders hold nothing once done; margin stays held
    for pid, position in matched.positions.items():
        again = replayed.position(pid)
        assert (again.contracts, again.avg_entry_price, again.realized_pnl, again.margin_held) == (
            position.contracts,
            position.avg_entry_price,
            position.realized_pnl,
            position.margin_held,
        )
