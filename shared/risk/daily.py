"""Daily PnL against a configurable UTC day boundary, and the automatic kill switch it drives.

Daily PnL is the portfolio's total PnL (realized + unrealized, fees included) now, minus its total at
the start of the trading day. The start-of-day baseline is the last total observed before the
boundary: feed `update` on every mark or fill and the error is at most one observation's move,
attributed to the new day (the conservative side for a loss limit).

The automatic kill switch latches: a new day does not resume trading, an operator does.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from shared.messages.risk import RiskState

_NS_PER_HOUR = 3_600_000_000_000
_NS_PER_DAY = 24 * _NS_PER_HOUR
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
DAILY_LOSS_REASON = "DAILY_LOSS"


def trading_day(now_ns: int, boundary_hour_utc: int) -> str:
    """ISO date of the trading day `now_ns` falls in; a day starts at `boundary_hour_utc`:00 UTC."""
    days = (now_ns - boundary_hour_utc * _NS_PER_HOUR) // _NS_PER_DAY
    return dt.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


class DailyPnl(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where today's PnL stands. Start with `DailyPnl()`; restore with `DailyPnl.resume(...)`."""

    trading_day: str = ""
    baseline: Decimal = Decimal(0)
    """Portfolio total PnL at the start of the trading day."""
    last_total: Decimal = Decimal(0)
    """The last portfolio total observed."""

    @property
    def pnl(self) -> Decimal:
        """Today's PnL: realized + unrealized, fees included."""
        return self.last_total - self.baseline

    @classmethod
    def resume(cls, day: str, daily_pnl: Decimal, total_now: Decimal) -> DailyPnl:
        """Rebuild after a restart from the `RiskState` kept in KV and the rebuilt ledger's total."""
        return cls(trading_day=day, baseline=total_now - daily_pnl, last_total=total_now)

    def update(self, now_ns: int, total_pnl: Decimal, boundary_hour_utc: int) -> DailyPnl:
        """Observe the portfolio total at `now_ns`; rolls the day over when the boundary has passed."""
        day = trading_day(now_ns, boundary_hour_utc)
        if not self.trading_day:
            return DailyPnl(trading_day=day, baseline=total_pnl, last_total=total_pnl)
        if day > self.trading_day:
            return DailyPnl(trading_day=day, baseline=self.last_total, last_total=total_pnl)
        if day < self.trading_day:
            return self  # a late observation from a day already closed changes nothing
        return msgspec.structs.replace(self, last_total=total_pnl)

    def breached(self, daily_loss_limit: Decimal) -> bool:
        """True once today's PnL is at or below −limit."""
        return self.pnl <= -daily_loss_limit


def apply_daily_loss(state: RiskState, daily: DailyPnl, daily_loss_limit: Decimal, now_ns: int) -> RiskState:
    """The risk state with today's PnL, the kill switch tripped if the loss limit is crossed.

    Returns `state` itself when nothing changed, so the caller publishes only on a real change.
    A kill switch already on (manual or automatic) keeps its original reason.
    """
    trip = daily.breached(daily_loss_limit) and not state.kill_switch
    if not trip and state.trading_day == daily.trading_day and state.daily_pnl == daily.pnl:
        return state
    changes: dict[str, object] = {
        "trading_day": daily.trading_day,
        "daily_pnl": daily.pnl,
        "updated_ns": now_ns,
    }
    if trip:
        changes["kill_switch"] = True
        changes["kill_reason"] = f"{DAILY_LOSS_REASON}: daily PnL {daily.pnl} <= -{daily_loss_limit}"
    return msgspec.structs.replace(state, **changes)
