"""Coinbase's default fee tiers. The venue core charges fills with the one fee type, `FeeRates`
(the same record execution publishes to KV `fee_rates`), so there is nothing to convert."""

from __future__ import annotations

from decimal import Decimal

from shared.messages.products import FeeRates, FeeTier

US_INTRO = FeeTier(pricing_tier="Intro 1", maker_fee_rate=Decimal("0.005"), taker_fee_rate=Decimal("0.009"))
"""US Advanced Trade lowest tier since 2026-09-16."""

FUTURES_DEFAULT = FeeTier(
    pricing_tier="Futures Intro", maker_fee_rate=Decimal("0.0002"), taker_fee_rate=Decimal("0.0005")
)
"""A configurable stand-in: the real CFM rate is not published."""

DEFAULT_FEES = FeeRates.of(spot=US_INTRO, futures=FUTURES_DEFAULT)
"""What a venue charges unless told otherwise."""


def fee_rates(spot: tuple[str, str, str], futures: tuple[str, str, str]) -> FeeRates:
    """From configured (tier name, maker rate, taker rate) strings of each product type."""

    def tier(name: str, maker: str, taker: str) -> FeeTier:
        return FeeTier(pricing_tier=name, maker_fee_rate=Decimal(maker), taker_fee_rate=Decimal(taker))

    return FeeRates.of(spot=tier(*spot), futures=tier(*futures))
