"""A pure L2 order book: snapshot plus absolute-quantity updates, best prices and top-N (no I/O).

Coinbase's `new_quantity` is the absolute size at a level, and "0" removes it, so applying
an update is a set or a delete. Each side keeps a dict for the sizes and a sorted price list for
ordering; an update costs a bisect plus a list insert/delete, a snapshot one sort.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from decimal import Decimal

from shared.money import ZERO

Level = tuple[Decimal, Decimal]


class BookSide:
    """One side of the book; `descending` puts the best (highest) price first, as for bids."""

    __slots__ = ("_prices", "descending", "sizes")

    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self.sizes: dict[Decimal, Decimal] = {}
        self._prices: list[Decimal] = []  # ascending

    def __len__(self) -> int:
        return len(self.sizes)

    def clear(self) -> None:
        """Forget every level."""
        self.sizes.clear()
        self._prices.clear()

    def load(self, levels: Iterable[Level]) -> None:
        """Replace the side with `levels` (a snapshot); zero sizes are skipped."""
        self.sizes = {price: size for price, size in levels if size != ZERO}
        self._prices = sorted(self.sizes)

    def set(self, price: Decimal, size: Decimal) -> None:
        """Set the absolute size at `price`; zero removes the level."""
        if size == ZERO:
            if self.sizes.pop(price, None) is not None:
                index = bisect.bisect_left(self._prices, price)
                del self._prices[index]
            return
        if price not in self.sizes:
            bisect.insort(self._prices, price)
        self.sizes[price] = size

    def best(self) -> Level | None:
        """The best level, or None when the side is empty."""
        if not self._prices:
            return None
        price = self._prices[-1] if self.descending else self._prices[0]
        return price, self.sizes[price]

    def top(self, depth: int) -> list[Level]:
        """Up to `depth` levels, best first."""
        prices = self._prices[: -depth - 1 : -1] if self.descending else self._prices[:depth]
        sizes = self.sizes
        return [(price, sizes[price]) for price in prices]


class L2Book:
    """The book of one product. `valid` is False until a snapshot arrives (and again after a gap)."""

    __slots__ = ("asks", "bids", "product_id", "valid")

    def __init__(self, product_id: str) -> None:
        self.product_id = product_id
        self.bids = BookSide(descending=True)
        self.asks = BookSide(descending=False)
        self.valid = False

    def invalidate(self) -> None:
        """Drop every level: the book can no longer be trusted until the next snapshot."""
        self.bids.clear()
        self.asks.clear()
        self.valid = False

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book; it is valid from here on."""
        self.bids.load(bids)
        self.asks.load(asks)
        self.valid = True

    def apply_update(self, is_bid: bool, price: Decimal, size: Decimal) -> None:
        """Set one level's absolute size (zero removes it)."""
        (self.bids if is_bid else self.asks).set(price, size)

    def best_bid(self) -> Level | None:
        """Highest bid, or None."""
        return self.bids.best()

    def best_ask(self) -> Level | None:
        """Lowest ask, or None."""
        return self.asks.best()

    def top(self, depth: int) -> tuple[list[Level], list[Level]]:
        """Top `depth` bids and asks, best first."""
        return self.bids.top(depth), self.asks.top(depth)

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask: a sign of a corrupted book."""
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid[0] >= ask[0]
