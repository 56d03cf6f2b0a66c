"""Metrics on equity curves whose values are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shared.backtest.metrics import YEAR_S, compute_metrics, max_drawdown_pct, periods_per_year

DAY_NS = 86_400 * 1_000_000_000


def _times(n: int, step_ns: int = DAY_NS) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * step_ns


def test_known_curve() -> None:
    equity = np.array([110.0, 99.0, 121.0])
    held = np.array([True, True, False])
    pnl = np.array([10.0, -5.0, 20.0])
    m = compute_metrics(_times(3), equity, held, pnl, 100.0)
    assert m.final_equity == 121.0
    assert m.return_pct == pytest.approx(21.0)
    assert m.max_drawdown_pct == pytest.approx(10.0)  # 110 -> 99
    r = np.array([0.1, -0.1, 22 / 99])
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(365.25))
    downside = math.sqrt((0.1**2) / 3)
    assert m.sortino == pytest.approx(r.mean() / downside * math.sqrt(365.25))
    assert m.win_rate_pct == pytest.approx(200 / 3)
    assert m.profit_factor == pytest.approx(6.0)
    assert m.exposure_pct == pytest.approx(200 / 3)
    assert m.num_trades == 3


def test_cagr_over_whole_years() -> None:
    year_ns = int(YEAR_S * 1e9)
    m = compute_metrics(_times(2, year_ns), np.array([110.0, 121.0]), np.zeros(2, bool), np.array([]), 100.0)
    assert m.cagr_pct == pytest.approx(10.0)


def test_undefined_metrics_are_none() -> None:
    m = compute_metrics(_times(3), np.full(3, 100.0), np.zeros(3, bool), np.array([]), 100.0)
    assert (m.sharpe, m.sortino, m.win_rate_pct, m.profit_factor) == (None, None, None, None)
    assert m.max_drawdown_pct == 0.0
    assert m.return_pct == 0.0
    single = compute_metrics(_times(1), np.array([100.0]), np.zeros(1, bool), np.array([]), 100.0)
    assert (single.sharpe, single.cagr_pct) == (None, None)


def test_no_losing_trade_has_no_profit_factor() -> None:
    m = compute_metrics(_times(2), np.array([100.0, 110.0]), np.zeros(2, bool), np.array([10.0]), 100.0)
    assert m.profit_factor is None
    assert m.win_rate_pct == 100.0


def test_drawdown_counts_a_fall_from_the_starting_capital() -> None:
    assert max_drawdown_pct(np.array([90.0, 95.0]), 100.0) == pytest.approx(10.0)


def test_annualisation_follows_the_bar_interval() -> None:
    assert periods_per_year(_times(10, 60 * 1_000_000_000)) == pytest.approx(365.25 * 1440)
    assert periods_per_year(_times(1)) is None
