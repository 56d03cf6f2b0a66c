"""Pure risk cores: limits, pre-trade rules, circuit breaker, rate limits and daily PnL.

No NATS, no asyncio, no clock: the risk service, reconciliation and the backtester call these with
their own inputs and time. The ledger they read positions from is `shared.ledger`.
"""

from shared.ratelimit import RateLimit, TokenBucket
from shared.risk.breaker import Breaker, BreakerConfig, Outcome
from shared.risk.context import RiskContext, RiskVerdict, risk_state
from shared.risk.daily import DailyPnl, apply_daily_loss, trading_day
from shared.risk.exposure import Exposure
from shared.risk.limits import RiskLimits
from shared.risk.ratelimit import RateBuckets
from shared.risk.reasons import Reason
from shared.risk.rules import check_intent

__all__ = [
    "Breaker",
    "BreakerConfig",
    "DailyPnl",
    "Exposure",
    "Outcome",
    "RateBuckets",
    "RateLimit",
    "Reason",
    "RiskContext",
    "RiskLimits",
    "RiskVerdict",
    "TokenBucket",
    "apply_daily_loss",
    "check_intent",
    "risk_state",
    "trading_day",
]
