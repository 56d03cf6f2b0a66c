"""The pure L2 book: snapshots, absolute updates, removals, best prices and top-N."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.marketdata.book import L2Book

D = Decimal


def _book() -> L2Book:
    book = L2Book("BTC-USD")
    book.apply_snapshot(
        bids=[(D("100.00"), D("1")), (D("99.50"), D("2")), (D("101.00"), D("0.5")), (D("98"), D("0"))],
        asks=[(D("102"), D("1")), (D("103.5"), D("4")), (D("101.5"), D("0.25"))],
    )
    return book


def test_a_snapshot_makes_the_book_valid_sorted_and_skips_zero_levels() -> None:
    book = _book()
    assert book.valid
    assert book.best_bid() == (D("101.00"), D("0.5"))
    assert book.best_ask() == (D("101.5"), D("0.25"))
    bids, asks = book.top(10)
    assert [p for p, _ in bids] == [D("101"), D("100"), D("99.5")]
    assert [p for p, _ in asks] == [D("101.5"), D("102"), D("103.5")]
    assert not book.is_crossed()


def test_updates_are_absolute_quantities_and_zero_removes_the_level() -> None:
    book = _book()
    book.apply_update(True, D("100.00"), D("7"))  # replaces, does not add
    book.apply_update(True, D("100.25"), D("1"))  # new level in the middle
    book.apply_update(False, D("101.5"), D("0"))  # removes the best ask
    book.apply_update(False, D("110"), D("0"))  # removing an absent level is a no-op
    bids, asks = book.top(2)
    assert bids == [(D("101.00"), D("0.5")), (D("100.25"), D("1"))]
    assert book.bids.sizes[D("100")] == D("7")
    assert asks == [(D("102"), D("1")), (D("103.5"), D("4"))]
    assert len(book.asks) == 2


def test_prices_with_different_spellings_are_one_level() -> None:
    book = _book()
    book.apply_update(True, D("100"), D("3"))
    assert book.bids.sizes[D("100.00")] == D("3")
    assert len(book.bids) == 3


def test_top_n_is_bounded_and_empty_sides_have_no_best() -> None:
    book = L2Book("ETH-USD")
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.top(5) == ([], [])
    book.apply_snapshot([(D(i), D(1)) for i in range(1, 30)], [])
    assert len(book.top(10)[0]) == 10
    assert book.top(10)[0][0][0] == D(29)


def test_invalidate_drops_everything_until_the_next_snapshot() -> None:
    book = _book()
    book.invalidate()
    assert not book.valid
    assert len(book.bids) == 0
    assert len(book.asks) == 0


def test_a_crossed_book_is_detected() -> None:
    book = _book()
    book.apply_update(True, D("101.5"), D("1"))
    assert book.is_crossed()


prices = st.integers(min_value=1, max_value=60).map(lambda i: D(i) / 4)
sizes = st.integers(min_value=0, max_value=5).map(D)


@given(st.lists(st.tuples(st.booleans(), prices, sizes), max_size=200), st.integers(min_value=1, max_value=8))
def test_the_book_matches_a_naive_model(updates: list[tuple[bool, Decimal, Decimal]], depth: int) -> None:
    book = L2Book("X")
    book.apply_snapshot([], [])
    model: dict[bool, dict[Decimal, Decimal]] = {True: {}, False: {}}
    for is_bid, price, size in updates:
        book.apply_update(is_bid, price, size)
        if size == 0:
            model[is_bid].pop(price, None)
        else:
            model[is_bid][price] = size
    bids, asks = book.top(depth)
    assert bids == sorted(model[True].items(), reverse=True)[:depth]
    assert asks == sorted(model[False].items())[:depth]
