"""A seeded synthetic market with something real for the demo strategies to find.

- BTC-USD walks with a slowly mean-reverting drift: trends that last minutes, which a moving-average
  crossover on one-minute bars can follow (a pure random walk would leave it nothing but noise).
- ETH-USD follows BTC, and SOL-USD follows ETH, each through a log spread that is an
  Ornstein-Uhlenbeck process: cointegrated pairs whose spread reverts by more than a round trip of
  taker fees, so a z-score pairs strategy finds real reversion.
- The perp-style future trades at a premium over BTC spot that reverts around a positive carry,
  wide enough at times to pay a cash-and-carry round trip and narrow enough at others to exit it.
- LTC-USD and DOGE-USD walk on their own, for contrast.

The market is time-compressed: what takes days on a real venue happens here in minutes, so a
demo shows trades. Pure and deterministic: the same seed and the same number of steps give the
same prices (book sizes and prints draw from a second stream, so they never shift the prices).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

from shared.money import round_to_increment
from shared.venue import Product

START = {"BTC-USD": 95_000.0, "ETH-USD": 3_500.0, "SOL-USD": 150.0, "LTC-USD": 90.0, "DOGE-USD": 0.38}
SIZE_UNIT = {"BTC": 0.5, "ETH": 5.0, "SOL": 50.0, "LTC": 40.0, "DOGE": 20_000.0}
WALKS = ("BTC-USD", "LTC-USD", "DOGE-USD")
"""Products with a price of their own; the others are derived from one of these."""


@dataclass(frozen=True)
class Reverting:
    """An Ornstein-Uhlenbeck process sampled once per step: `mean`, stationary standard deviation
    `sd` and `half_life` in steps (all in log-price units)."""

    mean: float
    sd: float
    half_life: float

    def step(self, value: float, shock: float) -> float:
        """The exact discrete OU update for one step, given a standard normal `shock`."""
        keep = math.exp(-math.log(2.0) / self.half_life)
        return self.mean + (value - self.mean) * keep + self.sd * math.sqrt(1.0 - keep * keep) * shock


# Steps are the feed's ticks (0.25 s by default): 240 steps is a minute.
DRIFT = Reverting(mean=0.0, sd=0.00002, half_life=1_200.0)
"""BTC's per-step drift: trends of about ±3 % over its five-minute half-life."""
ANCHOR_HALF_LIFE = 7_200.0
"""Steps of the half-life of BTC's pull toward its START price (30 minutes): with its trends, BTC
would otherwise wander far from today's prices in a simulator left running for hours. (LTC and
DOGE are left free: a pull would make them stationary, and a pair scanner would then "find" them.)"""
PAIR_SPREADS = {
    "ETH-USD": ("BTC-USD", Reverting(mean=0.0, sd=0.03, half_life=120.0)),
    "SOL-USD": ("ETH-USD", Reverting(mean=0.0, sd=0.03, half_life=120.0)),
}
"""Each follower: (the product it follows, its log spread over that product's price)."""
PERP_PREMIUM = Reverting(mean=0.0150, sd=0.0075, half_life=120.0)
"""Perp-style future over spot: a 1.5 % carry, ±0.75 %, half-life 30 s."""
DATED_PREMIUM = Reverting(mean=0.0080, sd=0.0005, half_life=240.0)
"""A dated (monthly) future over spot: steady contango."""
_ANCHOR_PULL = 1.0 - math.exp(-math.log(2.0) / ANCHOR_HALF_LIFE)


class MarketModel:
    """Mid prices per product, advanced one step at a time."""

    def __init__(self, products: list[Product], seed: int, sigma: float = 0.0004) -> None:
        self._rng = random.Random(seed)
        self._book_rng = random.Random(f"book:{seed}")
        self._sigma = sigma
        self.products = {p.product_id: p for p in products}
        self._log = {pid: math.log(START[pid]) for pid in WALKS}
        self._drift = DRIFT.mean
        # Spreads start at zero over the START ratios, so the first prices are the START prices.
        self._level = {pid: math.log(START[pid] / START[leader]) for pid, (leader, _) in PAIR_SPREADS.items()}
        self._spread = {pid: 0.0 for pid in PAIR_SPREADS}
        self._premium_of = {p.product_id: _premium(p) for p in products if p.is_future}
        self._premium = {pid: process.mean for pid, process in self._premium_of.items()}
        self.mids: dict[str, float] = {}
        self._derive()

    def step(self) -> dict[str, float]:
        """Advance one tick and return the new mids."""
        gauss = self._rng.gauss
        self._drift = DRIFT.step(self._drift, gauss(0.0, 1.0))
        for pid in WALKS:
            self._log[pid] += gauss(0.0, self._sigma)
        btc = self._log["BTC-USD"]
        self._log["BTC-USD"] = btc + self._drift - (btc - math.log(START["BTC-USD"])) * _ANCHOR_PULL
        for pid, (_, process) in PAIR_SPREADS.items():
            self._spread[pid] = process.step(self._spread[pid], gauss(0.0, 1.0))
        for pid, process in self._premium_of.items():
            self._premium[pid] = process.step(self._premium[pid], gauss(0.0, 1.0))
        self._derive()
        return self.mids

    def set_mid(self, product_id: str, mid: float) -> None:
        """Pin a spot mid (replay sources drive the market this way): a walk is moved, a follower's
        spread is set so that its mid is `mid`."""
        if product_id in self._log:
            self._log[product_id] = math.log(mid)
        elif product_id in PAIR_SPREADS:
            leader = self._log_of(PAIR_SPREADS[product_id][0])
            self._spread[product_id] = math.log(mid) - leader - self._level[product_id]
        else:
            return
        self._derive()

    def _log_of(self, product_id: str) -> float:
        if product_id in self._log:
            return self._log[product_id]
        leader = PAIR_SPREADS[product_id][0]
        return self._log_of(leader) + self._level[product_id] + self._spread[product_id]

    def _derive(self) -> None:
        mids = {pid: math.exp(self._log_of(pid)) for pid in (*WALKS, *PAIR_SPREADS)}
        for pid, premium in self._premium.items():
            mids[pid] = mids["BTC-USD"] * (1.0 + premium)
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
        unit = _size_unit(product)
        bids: list[tuple[Decimal, Decimal]] = []
        asks: list[tuple[Decimal, Decimal]] = []
        for i in range(depth):
            for side, price in ((bids, best_bid - step * i), (asks, best_ask + step * i)):
                size = round_to_increment(
                    Decimal(repr(unit * self._book_rng.uniform(0.2, 1.0))),
                    product.base_increment,
                    mode="down",
                )
                if price > 0 and size >= product.base_min_size:
                    side.append((price, size))
        return bids, asks

    def print_size(self, product_id: str) -> Decimal:
        """A small random taker size for a synthetic print."""
        product = self.products[product_id]
        size = round_to_increment(
            Decimal(repr(_size_unit(product) * self._book_rng.uniform(0.01, 0.1))),
            product.base_increment,
            mode="down",
        )
        return max(size, product.base_min_size)

    def coin(self) -> float:
        """A uniform draw in [0, 1) from the book stream (never moves the prices)."""
        return self._book_rng.random()


def _premium(product: Product) -> Reverting:
    """How a future's price relates to BTC spot: the perp-style one carries, a dated one is steady."""
    return PERP_PREMIUM if product.future is not None and product.future.is_perp_style else DATED_PREMIUM


def _size_unit(product: Product) -> float:
    return 20.0 if product.is_future else SIZE_UNIT.get(product.base_currency, 20.0)
