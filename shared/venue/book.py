"""One product's order book: price levels with FIFO queues (price-time priority).

The book tracks which levels changed so a feed can publish absolute `new_quantity` updates.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

from shared.messages import Side
from shared.money import ZERO
from shared.venue.orders import Order


class _Ladder:
    """One side: price -> FIFO of resting orders, plus cached level totals."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.prices: list[Decimal] = []  # ascending
        self.queues: dict[Decimal, deque[Order]] = {}
        self.totals: dict[Decimal, Decimal] = {}

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.side is Side.BUY else self.prices[0]

    def ordered_prices(self) -> list[Decimal]:
        """Prices best first."""
        return list(reversed(self.prices)) if self.side is Side.BUY else list(self.prices)

    def add(self, order: Order, price: Decimal, size: Decimal) -> None:
        if price not in self.queues:
            insort(self.prices, price)
            self.queues[price] = deque()
            self.totals[price] = ZERO
        self.queues[price].append(order)
        self.totals[price] += size

    def reduce(self, order: Order, price: Decimal, size: Decimal, *, remove: bool) -> None:
        self.totals[price] -= size
        if remove:
            self.queues[price].remove(order)
        if not self.queues[price]:
            del self.queues[price]
            del self.totals[price]
            del self.prices[bisect_left(self.prices, price)]


class OrderBook:
    """Resting limit orders of one product. Pure data structure: no fees, no funds."""

    def __init__(self, product_id: str) -> None:
        self.product_id = product_id
        self._sides = {Side.BUY: _Ladder(Side.BUY), Side.SELL: _Ladder(Side.SELL)}
        self._changed: set[tuple[Side, Decimal]] = set()

    def best_bid(self) -> Decimal | None:
        """Highest resting buy price."""
        return self._sides[Side.BUY].best()

    def best_ask(self) -> Decimal | None:
        """Lowest resting sell price."""
        return self._sides[Side.SELL].best()

    def mid(self) -> Decimal | None:
        """Mid price, or None when either side is empty."""
        bid, ask = self.best_bid(), self.best_ask()
        return None if bid is None or ask is None else (bid + ask) / 2

    def add(self, order: Order) -> None:
        """Rest `order` at its limit price behind the orders already there."""
        assert order.price is not None, "only limit orders rest"
        self._sides[order.side].add(order, order.price, order.leaves_size)
        order.in_book = True
        self._changed.add((order.side, order.price))

    def reduce(self, order: Order, size: Decimal) -> None:
        """Take `size` off a resting order (after a fill); drops it when nothing is left."""
        assert order.price is not None
        remove = order.request.base_size is not None and order.filled_size >= order.request.base_size
        self._sides[order.side].reduce(order, order.price, size, remove=remove)
        order.in_book = not remove
        self._changed.add((order.side, order.price))

    def remove(self, order: Order) -> None:
        """Pull a resting order (cancel or expiry) with its remaining size."""
        assert order.price is not None
        base = order.request.base_size or ZERO
        self._sides[order.side].reduce(order, order.price, base - order.filled_size, remove=True)
        order.in_book = False
        self._changed.add((order.side, order.price))

    def matchable(self, taker_side: Side, limit: Decimal | None) -> Iterator[Order]:
        """Resting orders a taker of `taker_side` may hit, best price first, FIFO within a price.

        Iterates over a copy so the caller may fill (and so remove) orders while iterating.
        """
        ladder = self._sides[taker_side.opposite]
        for price in ladder.ordered_prices():
            if limit is not None and (price > limit if taker_side is Side.BUY else price < limit):
                return
            yield from list(ladder.queues.get(price, ()))

    def would_cross(self, side: Side, price: Decimal) -> bool:
        """True when a limit order at `price` would take liquidity (post-only check)."""
        best = self.best_ask() if side is Side.BUY else self.best_bid()
        if best is None:
            return False
        return price >= best if side is Side.BUY else price <= best

    def levels(self, side: Side, depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """Aggregated (price, size) levels, best first."""
        ladder = self._sides[side]
        prices = ladder.ordered_prices()
        if depth is not None:
            prices = prices[:depth]
        return [(p, ladder.totals[p]) for p in prices]

    def level_size(self, side: Side, price: Decimal) -> Decimal:
        """Absolute resting size at one level (0 when empty)."""
        return self._sides[side].totals.get(price, ZERO)

    def orders(self) -> Iterator[Order]:
        """Every resting order (both sides)."""
        for ladder in self._sides.values():
            for queue in ladder.queues.values():
                yield from queue

    def drain_changes(self) -> list[tuple[Side, Decimal, Decimal]]:
        """Levels touched since the last drain with their absolute size now (0 = level gone)."""
        out = [(side, price, self.level_size(side, price)) for side, price in sorted(self._changed)]
        self._changed.clear()
        return out
