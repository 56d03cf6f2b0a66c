"""Risk settings: one frozen Struct, every field documented, unknown fields refused.

Environment overrides use `ALGOPIONEER_RISK__<FIELD>`, nested with `__`
(`ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT=500`). The limits here are the start-up limits; an
operator replaces them at run time by writing a `RiskLimits` to KV `risk_limits` key `limits`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from shared import routing, subjects
from shared.config import ServiceSettings
from shared.errors import ConfigError
from shared.risk import BreakerConfig, RateLimit, RiskLimits


def default_limits() -> RiskLimits:
    """Small, paper-sized limits so `make run` starts without a config file. Live runs set their own."""
    return RiskLimits(
        max_position_notional=Decimal(10_000),
        max_strategy_notional=Decimal(20_000),
        max_gross_exposure=Decimal(50_000),
        daily_loss_limit=Decimal(1_000),
        venue_rate=RateLimit(per_second=Decimal(10), burst=20),
        strategy_rate=RateLimit(per_second=Decimal(5), burst=10),
        price_band_bps=Decimal(100),
        max_staleness_ms=5_000,
        breaker=BreakerConfig(),
    )


EXPLICIT_LIMITS = (
    "max_position_notional",
    "max_strategy_notional",
    "max_gross_exposure",
    "daily_loss_limit",
)
"""The caps a live run must choose itself (see `RiskSettings.require_explicit_limits`)."""


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class RiskSettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the risk service checks, halts and reports."""

    venues: tuple[str, ...] | str = ("coinbase",)
    """Markets risk serves, a list or a comma-separated string (handy in the environment). Risk
    serves every execution venue of them (`coinbase` and `coinbase-paper`, see `route_ids`): a
    market's tickers mark its products on each, a halt cancels on each, and an intent for any other
    venue is refused (`UNKNOWN_PRODUCT`). Read `venue_ids`."""
    limits: dict[str, Any] = msgspec.field(default_factory=dict)
    """Start-up limits: `RiskLimits` fields overriding `default_limits()` one by one (nested tables
    such as `breaker` or `venue_rate` merge too), so `ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT=500`
    changes just that limit. Validated at load; see `risk_limits()`. KV `risk_limits` key `limits`
    replaces them (whole) while running."""
    require_explicit_limits: bool = False
    """Live runs set this: the caps (`EXPLICIT_LIMITS`) must then be set in `limits` itself, not
    inherited from the paper-sized `default_limits()`, or risk does not start."""
    tick_interval_s: float = 0.25
    """Housekeeping cadence: breaker cooldowns, daily PnL and the kill switch it drives, state and
    PnL publishing on change. Also the fastest rate at which mark-driven PnL is republished."""
    startup_grace_s: float = 10.0
    """After a start, an intent for a product without a fresh mark waits (is redelivered) for up to
    this long instead of being refused as stale: prices restored from storage are not today's."""
    report_interval_s: float = 5.0
    """`PnlSummary` is published (and KV refreshed) at least this often even without a change."""
    limits_refresh_s: float = 1.0
    """How often KV `risk_limits` is read for a new revision."""
    products_refresh_s: float = 30.0
    """How often KV `products` is re-read in full; an unknown product is also looked up on demand."""
    replay_timeout_s: float = 60.0
    """Start-up fails if the fills, order-event and decision streams are not replayed within this:
    deciding on a half-rebuilt ledger would be deciding blind."""
    durable: str = "risk"
    """Durable consumer name on the INTENTS stream (shared by replicas, if ever more than one)."""
    unanswered_grace_s: float = 5.0
    """An approval execution never answered stops counting as exposure this long after its
    deadline (plus `clock_skew_ms`): execution refuses it after its deadline, so it cannot fill."""

    def __post_init__(self) -> None:
        if not self.venue_ids:
            raise ValueError("venues must name at least one market")
        for venue in self.venue_ids:
            subjects.token(venue)
        if any(v.endswith(routing.PAPER_SUFFIX) for v in self.venue_ids):
            raise ValueError("venues must name markets (e.g. coinbase); their paper venues are served too")
        for name in ("tick_interval_s", "report_interval_s", "limits_refresh_s", "products_refresh_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.replay_timeout_s <= 0:
            raise ValueError("replay_timeout_s must be positive")
        if self.unanswered_grace_s < 0:
            raise ValueError("unanswered_grace_s must not be negative")
        subjects.token(self.durable)
        self.risk_limits()
        missing = [name for name in EXPLICIT_LIMITS if name not in self.limits]
        if self.require_explicit_limits and missing:
            raise ConfigError(
                "limits",
                f"require_explicit_limits is set but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set (the defaults are paper-sized)",
            )

    @property
    def venue_ids(self) -> tuple[str, ...]:
        """`venues` as a tuple of ids."""
        if isinstance(self.venues, str):
            return tuple(v.strip() for v in self.venues.split(",") if v.strip())
        return self.venues

    @property
    def route_ids(self) -> tuple[str, ...]:
        """Every execution venue risk serves: each market's live venue and its paper venue."""
        return routing.routes(self.venue_ids)

    def risk_limits(self) -> RiskLimits:
        """The validated start-up limits; a wrong value raises `ConfigError` naming `limits.<field>`."""
        merged = _merge(msgspec.to_builtins(default_limits()), self.limits)
        try:
            return msgspec.convert(merged, RiskLimits, strict=False)
        except ConfigError as exc:
            raise ConfigError(f"limits.{exc.field}", exc.problem) from None
        except msgspec.ValidationError as exc:
            raise ConfigError("limits", str(exc)) from None
