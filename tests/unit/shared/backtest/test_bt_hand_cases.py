"""Small cases computed by hand: fills, fees, slippage, sizing, final liquidation, tie rule."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from polars.testing import assert_frame_equal

from shared.backtest import BacktestConfig, run_event_driven, run_vectorised
from shared.backtest.types import BacktestResult, Bars
from tests.unit.shared.backtest.helpers import CLOSES, MIN, T0, make_bars

# Bar 8 opens at 11 (the fill of the golden cross on bar 7), bar 12 at 10 (the death cross on 11).
BARS = make_bars(CLOSES, opens={8: 11, 12: 10})


def _cfg(**kw: object) -> BacktestConfig:
    base: dict[str, object] = {"short": 2, "long": 4, "capital": D(1000)}
    base.update(kw)
    return BacktestConfig(**base)  # type: ignore[arg-type]


def _both(bars: Bars, cfg: BacktestConfig) -> BacktestResult:
    """Run both engines, check they agree on the trades, return the event-driven result."""
    ev, vec = run_event_driven(bars, cfg), run_vectorised(bars, cfg)
    assert_frame_equal(vec.trades, ev.trades, rel_tol=1e-12, abs_tol=1e-9)
    assert_frame_equal(vec.equity, ev.equity, rel_tol=1e-12)
    return ev


def test_next_open_fill_with_fees() -> None:
    res = _both(BARS, _cfg(fee_bps=D(10)))
    (t,) = res.exact_trades
    units = D(1000) / (D(11) * D("1.001"))  # all-in: the entry fee is included
    assert (t.entry_time, t.exit_time) == (T0 + 8 * MIN, T0 + 12 * MIN)
    assert (t.entry_price, t.exit_price, t.size) == (D(11), D(10), units)
    entry_fee, exit_fee = units * 11 * D("0.001"), units * 10 * D("0.001")
    assert t.fees == entry_fee + exit_fee
    assert t.pnl == units * (10 - 11) - entry_fee - exit_fee
    assert t.exit_reason == "signal"
    assert res.metrics.final_equity == pytest.approx(907.2745436, abs=1e-6)
    assert res.metrics.num_trades == 1
    assert res.metrics.win_rate_pct == 0.0
    assert res.metrics.exposure_pct == pytest.approx(4 / 15 * 100)  # held at the closes of bars 8..11


def test_equity_is_marked_at_each_close() -> None:
    res = _both(BARS, _cfg())
    eq = res.equity["equity"].to_list()
    units = 1000 / 11
    assert eq[:8] == [1000.0] * 8
    assert eq[8] == pytest.approx(units * 12)
    assert eq[11] == pytest.approx(units * 9)
    assert eq[12:] == pytest.approx([units * 10] * 3)
    assert res.equity["in_position"].to_list() == [False] * 8 + [True] * 4 + [False] * 3


def test_close_fill_uses_the_signal_bar() -> None:
    res = _both(BARS, _cfg(fill="close", fee_bps=D(20)))
    (t,) = res.exact_trades
    units = D(1000) / (D(9) * D("1.002"))
    assert (t.entry_time, t.exit_time) == (T0 + 7 * MIN, T0 + 11 * MIN)
    assert (t.entry_price, t.exit_price, t.size) == (D(9), D(9), units)
    assert t.pnl == -(units * 9 * D("0.002")) * 2


def test_slippage_moves_both_fills_against_us() -> None:
    (t,) = _both(BARS, _cfg(slippage_bps=D(50))).exact_trades
    assert t.entry_price == D(11) * D("1.005")
    assert t.exit_price == D(10) * D("0.995")
    assert t.size == D(1000) / (D(11) * D("1.005"))


def test_open_position_is_liquidated_at_the_last_close() -> None:
    bars = BARS.slice(0, 11)  # ends on bar 10, before the death cross
    res = _both(bars, _cfg(fee_bps=D(10)))
    (t,) = res.exact_trades
    units = D(1000) / (D(11) * D("1.001"))
    assert t.exit_reason == "end_of_data"
    assert (t.exit_time, t.exit_price) == (T0 + 10 * MIN, D(13))
    final = units * 13 * D("0.999")
    assert res.metrics.final_equity == pytest.approx(float(final), rel=1e-15)
    assert res.equity["equity"][-1] == pytest.approx(float(final), rel=1e-15)


def test_exit_signal_on_the_last_bar_liquidates_at_its_close() -> None:
    (t,) = _both(BARS.slice(0, 12), _cfg()).exact_trades  # death cross on the last bar
    assert (t.exit_reason, t.exit_price, t.exit_time) == ("end_of_data", D(9), T0 + 11 * MIN)


def test_entry_signal_on_the_last_bar_cannot_fill_next_open() -> None:
    res = _both(BARS.slice(0, 8), _cfg())
    assert res.exact_trades == ()
    assert res.metrics.final_equity == 1000.0
    assert res.metrics.exposure_pct == 0.0


def test_no_signal_before_both_averages_exist() -> None:
    res = _both(BARS.slice(0, 4), _cfg())
    assert res.metrics.num_trades == 0


def test_fixed_size() -> None:
    res = _both(BARS, _cfg(size=D(10), fee_bps=D(10)))
    (t,) = res.exact_trades
    assert t.size == D(10)
    assert res.metrics.final_equity == pytest.approx(1000 - 10 - 0.11 - 0.10)


def test_fixed_size_beyond_cash_is_not_entered() -> None:
    res = _both(BARS, _cfg(size=D(100)))  # 100 × 11 > 1000
    assert res.exact_trades == ()
    assert res.metrics.final_equity == 1000.0


# Flat, so short == long exactly on bar 4; then up: short > long on bar 5.
TIE = [5, 5, 5, 5, 5, 6, 7, 8, 7, 5, 4, 3]


def test_strict_cross_ignores_a_previous_tie() -> None:
    assert _both(make_bars(TIE), _cfg(cross="strict")).exact_trades == ()


def test_touch_cross_counts_a_previous_tie_like_the_live_core() -> None:
    res = _both(make_bars(TIE), _cfg(cross="touch"))
    (t,) = res.exact_trades
    assert (t.entry_time, t.exit_time) == (T0 + 6 * MIN, T0 + 10 * MIN)


def test_bad_config_is_refused() -> None:
    from shared.backtest import BacktestError

    for kw in ({"short": 4, "long": 4}, {"short": 0}, {"fee_bps": D(-1)}, {"capital": D(0)}, {"size": D(0)}):
        with pytest.raises(BacktestError):
            _cfg(**kw)


def test_first_possible_signal_is_on_bar_long() -> None:
    """The long average first exists on bar 3; bar 4 is the first bar with a previous pair of averages.
    Strict mode must see bar 3's difference (-1) even though the core reports nothing then."""
    res = _both(make_bars([10, 9, 8, 7, 12, 13, 14]), _cfg(cross="strict"))
    (t,) = res.exact_trades
    assert t.entry_time == T0 + 5 * MIN
    assert t.exit_reason == "end_of_data"
