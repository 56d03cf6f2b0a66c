"""Performance metrics from an equity curve and a list of trade PnLs (floats: reporting, not money).

Annualisation uses the median bar interval and a 365.25-day year, because crypto trades every day;
Sharpe and Sortino assume a zero risk-free rate. Returns are per bar, starting from the capital.
"""

from __future__ import annotations

import math

import numpy as np

from shared.backtest.types import BoolArray, FloatArray, IntArray, Metrics

YEAR_S = 365.25 * 86_400
_NS = 1e9


def periods_per_year(time_ns: IntArray) -> float | None:
    """Bars per year from the median spacing of `time_ns`; None for fewer than two bars."""
    if time_ns.size < 2:
        return None
    step = float(np.median(np.diff(time_ns))) / _NS
    return YEAR_S / step if step > 0 else None


def max_drawdown_pct(equity: FloatArray, start: float) -> float:
    """Largest peak-to-trough fall in percent of the peak (a positive number; 0 if never below a peak)."""
    curve = np.concatenate([[start], equity])
    peak = np.maximum.accumulate(curve)
    return float(np.max(1.0 - curve / peak) * 100.0)


def sharpe_sortino(equity: FloatArray, start: float, ppy: float | None) -> tuple[float | None, float | None]:
    """Annualised Sharpe (sample std) and Sortino (downside deviation vs 0) of per-bar returns."""
    if ppy is None or equity.size < 2:
        return None, None
    curve = np.concatenate([[start], equity])
    r = np.diff(curve) / curve[:-1]
    mean = float(r.mean())
    std = float(r.std(ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    scale = math.sqrt(ppy)
    sharpe = mean / std * scale if std > 0 else None
    sortino = mean / downside * scale if downside > 0 else None
    return sharpe, sortino


def cagr_pct(final: float, start: float, time_ns: IntArray) -> float | None:
    """Compound annual growth in percent over the span of the bars (including the last bar's length)."""
    if time_ns.size < 2 or final <= 0:
        return None
    step = float(np.median(np.diff(time_ns)))
    years = (float(time_ns[-1] - time_ns[0]) + step) / _NS / YEAR_S
    if years <= 0:
        return None
    try:
        value = ((final / start) ** (1.0 / years) - 1.0) * 100.0
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def compute_metrics(
    time_ns: IntArray, equity: FloatArray, held: BoolArray, pnl: FloatArray, capital: float
) -> Metrics:
    """All summary metrics of one run; see `Metrics` for units and the None cases."""
    final = float(equity[-1]) if equity.size else capital
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    n_trades = int(pnl.size)
    sharpe, sortino = sharpe_sortino(equity, capital, periods_per_year(time_ns))
    return Metrics(
        final_equity=final,
        return_pct=(final / capital - 1.0) * 100.0,
        cagr_pct=cagr_pct(final, capital, time_ns),
        max_drawdown_pct=max_drawdown_pct(equity, capital),
        sharpe=sharpe,
        sortino=sortino,
        win_rate_pct=(wins.size / n_trades * 100.0) if n_trades else None,
        profit_factor=float(wins.sum() / -losses.sum()) if losses.size else None,
        exposure_pct=float(held.mean() * 100.0) if held.size else 0.0,
        num_trades=n_trades,
    )
