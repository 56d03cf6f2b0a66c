"""A seeded synthetic market: BTC spot random walk, BTC futures with a mean-reverting basis, an
ETH/SOL pair with a cointegrated (OU) spread, and independent walks for contrast. Pure and
deterministic: the same seed and the same number of steps give the same prices."""

from __future__ import annotations

import math
import random
from decimal import Decimal

from shared.money import round_to_increment
from shared.venue import Product

START = {"BTC-USD": 95_000.0, "ETH-USD": 3_500.0, "LTC-USD": 90.0, "DOGE-USD": 0.38}
SIZE_UNIT = {"BTC": 0.5, "ETH": 5.0, "SOL": 50.0, "LTC": 40.0, "DOGE": 20_000.0}
SOL_RATIO = 150.0 / 3_500.0


class MarketModel:
    """Mid prices per product, advanced one step at a time."""

    def __init__(self, products: list[Product], seed: int, sigma: float = 0.0004) -> None:
        self._rng = random.Random(seed)
        self._sigma = sigma
        self.products = {p.product_id: p for p in products}
        self._log = {pid: math.log(px) for pid, px in START.items()}
        self._spread = 0.0  # SOL vs ETH, OU
        self._basis: dict[str, float] = {
            p.product_id: (0.0005 if p.future is not None and p.future.is_perp_style else 0.008)
            for p in products
            if p.is_future
        }
        self.mids: dict[str, float] = {}
        self._derive()

    def step(self) -> dict[str, float]:
        """Advance one tick and return the new mids."""
        for pid in self._log:
            self._log[pid] += self._rng.gauss(0.0, self._sigma)
        self._spread += -0.05 * self._spread + self._rng.gauss(0.0, self._sigma)
        for pid, basis in self._basis.items():
            target = 0.0005 if pid.startswith("BIP") else 0.008
            self._basis[pid] = basis + 0.05 * (target - basis) + self._rng.gauss(0.0, self._sigma / 4)
        self._derive()
        return self.mids

    def set_mid(self, product_id: str, mid: float) -> None:
        """Pin a spot mid (replay sources drive the walk this way)."""
        if product_id in self._log:
            self._log[product_id] = math.log(mid)
            self._derive()

    def _derive(self) -> None:
        mids = {pid: math.exp(v) for pid, v in self._log.items()}
        mids["SOL-USD"] = SOL_RATIO * mids["ETH-USD"] * math.exp(self._spread)
        for pid, basis in self._basis.items():
            mids[pid] = mids["BTC-USD"] * (1.0 + basis)
        self.mids = {pid: px for pid, px in mids.items() if pid in self.products}

    def levels(
        self, product_id: str, depth: int = 10
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Bid and ask ladders around the mid, on the product's grid, with random sizes."""
        product = self.products[product_id]
        tick = product.price_increment
        mid = Decimal(repr(self.mids[product_id]))
        step = max(tick, round_to_increment(mid * Decimal("0.0001"), tick, mode="nearest"))
        best_bid = round_to_increment(mid - tick / 2, tick, mode="down")
        best_ask = best_bid + tick
        unit = SIZE_UNIT.get(product.base_currency, 20.0) if not product.is_future else 20.0
        bids: list[tuple[Decimal, Decimal]] = []
        asks: list[tuple[Decimal, Decimal]] = []
        for i in range(depth):
            for side, price in ((bids, best_bid - step * i), (asks, best_ask + step * i)):
                size = round_to_increment(
                    Decimal(repr(unit * self._rng.uniform(0.2, 1.0))), product.base_increment, mode="down"
                )
                if price > 0 and size >= product.base_min_size:
                    side.append((price, size))
        return bids, asks

    def print_size(self, product_id: str) -> Decimal:
        """A small random taker size for a synthetic print."""
        product = self.products[product_id]
        unit = SIZE_UNIT.get(product.base_currency, 20.0) if not product.is_future else 20.0
        size = round_to_increment(
            Decimal(repr(unit * self._rng.uniform(0.01, 0.1))), product.base_increment, mode="down"
        )
        return max(size, product.base_min_size)

    def coin(self) -> float:
        """A uniform draw in [0, 1) from the model's stream."""
        return self._rng.random()
