"""Fee tiers: maker/taker rates as decimal fractions (0.005 = 0.50%)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.messages import Liquidity
from shared.venue.products import Product


@dataclass(frozen=True, kw_only=True)
class FeeTier:
    """One pricing tier, as `GET /transaction_summary` reports it."""

    pricing_tier: str
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal

    def rate(self, liquidity: Liquidity) -> Decimal:
        """The rate charged for a fill with this liquidity."""
        return self.maker_fee_rate if liquidity is Liquidity.MAKER else self.taker_fee_rate


US_INTRO = FeeTier(pricing_tier="Intro 1", maker_fee_rate=Decimal("0.005"), taker_fee_rate=Decimal("0.009"))
"""US Advanced Trade lowest tier since 2026-09-16."""

FUTURES_DEFAULT = FeeTier(
    pricing_tier="Futures Intro", maker_fee_rate=Decimal("0.0002"), taker_fee_rate=Decimal("0.0005")
)
"""A configurable stand-in: the real CFM rate is not published."""


@dataclass(frozen=True, kw_only=True)
class FeeSchedule:
    """Which tier applies to which product type."""

    spot: FeeTier = US_INTRO
    futures: FeeTier = FUTURES_DEFAULT

    @classmethod
    def of_rates(
        cls,
        *,
        spot: tuple[str, str, str],
        futures: tuple[str, str, str],
    ) -> FeeSchedule:
        """From configured (tier name, maker rate, taker rate) strings of each product type."""

        def tier(name: str, maker: str, taker: str) -> FeeTier:
            return FeeTier(pricing_tier=name, maker_fee_rate=Decimal(maker), taker_fee_rate=Decimal(taker))

        return cls(spot=tier(*spot), futures=tier(*futures))

    def tier_for(self, product: Product) -> FeeTier:
        """The tier for fills on `product`."""
        return self.futures if product.is_future else self.spot

    def fee(self, product: Product, notional: Decimal, liquidity: Liquidity) -> Decimal:
        """Commission in quote currency for a fill of `notional` (price × size × rate, unrounded)."""
        return notional * self.tier_for(product).rate(liquidity)
