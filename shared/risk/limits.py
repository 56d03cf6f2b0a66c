"""Risk limits: one frozen, validated Struct, loaded from config and replaceable at run time (KV).

Quantities are in base units (BTC, not contracts) and notionals in quote currency, so one limit reads
the same for spot and futures. Every field is required unless a default is obviously safe: a missing
cap must be a config error, never "unlimited".
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.errors import ConfigError
from shared.messages.checks import positive, positive_int
from shared.ratelimit import RateLimit
from shared.risk.breaker import BreakerConfig


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every limit the pre-trade checks enforce."""

    max_position_base: dict[str, Decimal] = {}
    """Per product_id: cap on |net position| across all strategies, in base units (e.g. BTC).
    A product without an entry is capped by notional only."""
    max_position_notional: Decimal
    """Default cap on |net position| × mark of any one product across all strategies, in quote."""
    max_position_notional_by_product: dict[str, Decimal] = {}
    """Per product_id overrides of `max_position_notional`."""
    max_strategy_notional: Decimal
    """Cap on one strategy's gross notional (sum over its products of |position| × mark)."""
    max_gross_exposure: Decimal
    """Cap on the portfolio's gross exposure: sum over products of |net position| × mark."""
    daily_loss_limit: Decimal
    """Positive amount of quote currency; a trading day at or below −limit (realized + unrealized,
    fees included) blocks risk-increasing orders and trips the kill switch."""
    day_boundary_hour_utc: int = 0
    """Hour (0–23, UTC) at which a trading day starts."""
    venue_rate: RateLimit
    """Order rate limit per venue (shared by every strategy)."""
    strategy_rate: RateLimit
    """Order rate limit per strategy."""
    price_band_bps: Decimal
    """A limit price must lie within this many basis points of the current mid."""
    max_staleness_ms: int
    """A mark older than this is stale: no order on that product passes."""
    max_intent_age_ms: int = 10_000
    """Ceiling on an order's placement deadline, counted from the intent's `created_ns`, whatever
    deadline the intent asks for."""
    clock_skew_ms: int = 1_000
    """Allowed difference between the strategy's clock and risk's: an intent dated further in the
    future is refused (`STALE_INTENT`), as its age cannot be judged."""
    flatten_on_halt: bool = False
    """When the kill switch trips, also flatten positions through the normal order path."""
    breaker: BreakerConfig = msgspec.field(default_factory=BreakerConfig)
    """Circuit breaker thresholds."""

    def __post_init__(self) -> None:
        for product, cap in self.max_position_base.items():
            positive(f"max_position_base[{product}]", cap)
        positive("max_position_notional", self.max_position_notional)
        for product, cap in self.max_position_notional_by_product.items():
            positive(f"max_position_notional_by_product[{product}]", cap)
        positive("max_strategy_notional", self.max_strategy_notional)
        positive("max_gross_exposure", self.max_gross_exposure)
        positive("daily_loss_limit", self.daily_loss_limit)
        hour = self.day_boundary_hour_utc
        if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
            raise ConfigError("day_boundary_hour_utc", f"must be an integer hour 0-23, got {hour!r}")
        positive("price_band_bps", self.price_band_bps)
        positive_int("max_staleness_ms", self.max_staleness_ms)
        positive_int("max_intent_age_ms", self.max_intent_age_ms)
        positive_int("clock_skew_ms", self.clock_skew_ms)

    def position_notional_cap(self, product_id: str) -> Decimal:
        """The notional cap that applies to `product_id`."""
        return self.max_position_notional_by_product.get(product_id, self.max_position_notional)
