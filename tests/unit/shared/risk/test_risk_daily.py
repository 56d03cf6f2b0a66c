"""Daily PnL: the UTC boundary, the rollover baseline, and the automatic kill switch."""

from __future__ import annotations

from decimal import Decimal

from shared.messages.risk import RiskState
from shared.risk import DailyPnl, apply_daily_loss, trading_day

D = Decimal
HOUR = 3_600_000_000_000
DAY0 = 1_763_942_400_000_000_000  # 2025-11-24T00:00:00Z


def test_trading_day_respects_the_boundary_hour() -> None:
    assert trading_day(DAY0, 0) == "2025-11-24"
    assert trading_day(DAY0 - 1, 0) == "2025-11-23"
    assert trading_day(DAY0 + 21 * HOUR, 22) == "2025-11-23"
    assert trading_day(DAY0 + 22 * HOUR, 22) == "2025-11-24"


def test_daily_pnl_resets_at_the_boundary() -> None:
    d = DailyPnl().update(DAY0 + HOUR, D("100"), 0)
    assert d.pnl == 0
    assert d.trading_day == "2025-11-24"
    d = d.update(DAY0 + 2 * HOUR, D("40"), 0)
    assert d.pnl == D("-60")
    d = d.update(DAY0 + 25 * HOUR, D("30"), 0)  # next day: baseline is the last total seen (40)
    assert d.trading_day == "2025-11-25"
    assert d.pnl == D("-10")
    assert d.update(DAY0 + 3 * HOUR, D("999"), 0) == d  # a late observation from yesterday


def test_resume_after_restart_keeps_todays_pnl() -> None:
    d = DailyPnl.resume("2025-11-24", D("-250"), total_now=D("1000"))
    assert d.pnl == D("-250")
    assert d.update(DAY0 + HOUR, D("900"), 0).pnl == D("-350")


def test_daily_loss_trips_the_kill_switch_and_latches() -> None:
    state = RiskState(updated_ns=0)
    d = DailyPnl().update(DAY0, D("0"), 0).update(DAY0 + HOUR, D("-999.99"), 0)
    state = apply_daily_loss(state, d, D("1000"), DAY0 + HOUR)
    assert not state.kill_switch
    assert state.daily_pnl == D("-999.99")
    d = d.update(DAY0 + 2 * HOUR, D("-1000"), 0)
    state = apply_daily_loss(state, d, D("1000"), DAY0 + 2 * HOUR)
    assert state.kill_switch
    assert state.kill_reason.startswith("DAILY_LOSS")
    d = d.update(DAY0 + 26 * HOUR, D("-1000"), 0)  # a new day does not resume trading
    state = apply_daily_loss(state, d, D("1000"), DAY0 + 26 * HOUR)
    assert state.kill_switch
    assert state.daily_pnl == 0
    assert state.trading_day == "2025-11-25"


def test_unchanged_state_is_returned_as_is_and_manual_reason_is_kept() -> None:
    d = DailyPnl().update(DAY0, D("0"), 0)
    state = apply_daily_loss(RiskState(updated_ns=0), d, D("10"), DAY0)
    assert apply_daily_loss(state, d, D("10"), DAY0 + 1) is state
    manual = RiskState(kill_switch=True, kill_reason="operator: maintenance", updated_ns=0)
    loss = d.update(DAY0 + 1, D("-50"), 0)
    assert apply_daily_loss(manual, loss, D("10"), DAY0 + 1).kill_reason == "operator: maintenance"
