"""What `check_intent` looks at and what it answers with.

The context is a snapshot the risk service assembles before each decision; the verdict carries the
breaker and rate-bucket state to keep *if* the service acts on the approval. Nothing here mutates:
a refused intent leaves every piece of state exactly as it was.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from shared.ledger import Mark, PositionKey
from shared.messages import ProductInfo, ProductKey
from shared.messages.orders import OrderIntent, RiskDecision
from shared.messages.risk import Position, RiskState
from shared.risk.breaker import Breaker
from shared.risk.daily import DailyPnl
from shared.risk.limits import RiskLimits
from shared.risk.ratelimit import RateBuckets


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskContext:
    """Everything a pre-trade decision depends on, time included."""

    now_ns: int
    """Decision time; staleness, cooldowns and rate buckets are judged against it."""
    limits: RiskLimits
    products: Mapping[ProductKey, ProductInfo]
    """Product metadata by (venue, product_id); see `index_products`."""
    positions: Sequence[Position] = ()
    """Filled positions, as `Ledger.positions()` returns them."""
    marks: Mapping[ProductKey, Mark] = field(default_factory=dict)
    """Latest mid and its time per (venue, product_id), as `Ledger.marks()` returns them."""
    pending: Mapping[PositionKey, Decimal] = field(default_factory=dict)
    """Signed quantity (venue units) of approved orders not yet filled or cancelled, counted as if
    filled so a burst of intents cannot slip past a limit before the first fill arrives."""
    kill_switch: bool = False
    daily_pnl: Decimal = Decimal(0)
    """Today's PnL (realized + unrealized, fees included), from `DailyPnl.pnl`."""
    breaker: Breaker = field(default_factory=Breaker)
    buckets: RateBuckets = field(default_factory=RateBuckets)
    seen_intents: Container[str] = frozenset()
    """client_order_ids already decided (approved or refused)."""
    pending_buys: Mapping[PositionKey, Decimal] = field(default_factory=dict)
    """Pending quantity of buy orders only (>= 0), per position: `PendingOrders.one_side(1)`."""
    pending_sells: Mapping[PositionKey, Decimal] = field(default_factory=dict)
    """Pending quantity of sell orders only (<= 0), per position: `PendingOrders.one_side(-1)`."""
    entries: Mapping[PositionKey, Decimal] = field(default_factory=dict)
    """Signed size of each strategy's latest approved `ENTRY` order per position: what a `HEDGE`
    may complete a leg up to."""
    routes: Mapping[str, str] | None = None
    """strategy_id -> the execution venue its enabled spec routes to (`StrategySpec.order_venue`),
    from risk's own read of KV `strategy_specs`. A strategy missing here has no (enabled) spec: only
    orders that reduce what it holds pass. None skips the route checks (pure unit tests only: the
    risk service always passes its view)."""
    subject_strategy: str | None = None
    """The strategy id of the subject the intent arrived on (`orders.intent.<id>`); None = not
    checked (pure unit tests only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskVerdict:
    """The answer to one intent, plus the state to keep when the service sends the order."""

    approved: bool
    reasons: tuple[str, ...]
    """Stable `Reason` codes, in check order; empty when approved."""
    detail: str
    """Human-readable explanation of each reason."""
    reducing: bool
    """The order reduces risk (bypasses the kill switch and the daily loss limit)."""
    probe: bool
    """The order is the breaker's single half-open probe."""
    breaker: Breaker
    """Breaker state to store if approved (the probe is marked in flight); unchanged otherwise."""
    buckets: RateBuckets
    """Rate buckets to store if approved (one token taken); unchanged otherwise."""
    expires_ns: int = 0
    """The placement deadline risk sets on the approved order (0 when refused)."""

    def decision(self, intent: OrderIntent, decided_ns: int) -> RiskDecision:
        """The `RiskDecision` message to publish."""
        return RiskDecision(
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            approved=self.approved,
            reasons=self.reasons,
            detail=self.detail,
            decided_ns=decided_ns,
        )


def risk_state(
    *,
    kill_switch: bool,
    kill_reason: str,
    breaker: Breaker,
    daily: DailyPnl,
    gross_exposure: Decimal,
    now_ns: int,
) -> RiskState:
    """The `RiskState` message for KV and the bus, from the pure cores' states.

    Pass `breaker.at(now_ns, limits.breaker)` so a cooldown that has run out shows as half-open.
    """
    return RiskState(
        kill_switch=kill_switch,
        kill_reason=kill_reason,
        breaker=breaker.state,
        consecutive_failures=breaker.consecutive_failures,
        breaker_opened_ns=breaker.opened_ns,
        trading_day=daily.trading_day,
        daily_pnl=daily.pnl,
        gross_exposure=gross_exposure,
        updated_ns=now_ns,
    )
