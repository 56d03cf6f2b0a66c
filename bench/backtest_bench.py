"""Backtest speed: our engines against the same work written in plain numpy, in the same run.

Work: one MA(10, 20) backtest over 1,000,000 bars, and a 100-combination sweep (short 2..20 × long
30..120) over 100,000 bars; fees 5 bps, next-open fills, all-in sizing, end-of-data liquidation,
equity curve and return / max drawdown / Sharpe. The numpy baseline is the straightforward way to
write that (cumsum moving averages, a Python loop over the crossing events). Numbers are reported,
never judged: ratios > 1 mean the baseline is faster.

Run: .venv/bin/python -m bench.backtest_bench
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from shared.backtest import BacktestConfig, run_event_driven, run_vectorised, synthetic_bars
from shared.backtest.sweep import grid, run_sweep
from shared.backtest.types import Bars, FloatArray

FEE = 0.0005
SHORTS = "short=2:20:2"
LONGS = "long=30:120:10"


def _sma(close: FloatArray, window: int) -> FloatArray:
    csum = np.cumsum(np.concatenate([[0.0], close]))
    out = np.full(close.size, np.nan)
    out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


def numpy_backtest(
    bars: Bars, short: FloatArray, long: FloatArray, capital: float = 10_000.0
) -> dict[str, float]:
    """The baseline: same rules (strict cross, next-open fill, fee, all-in, final liquidation)."""
    diff = short - long
    prev, cur = diff[:-1], diff[1:]
    with np.errstate(invalid="ignore"):
        golden = np.flatnonzero((prev < 0) & (cur > 0)) + 1
        death = np.flatnonzero((prev > 0) & (cur < 0)) + 1
    events = sorted([(int(i), 1) for i in golden] + [(int(i), -1) for i in death])
    n = bars.close.size
    cash, units = capital, 0.0
    units_at = np.zeros(n)
    cash_at = np.empty(n)
    last = 0
    for i, kind in events:
        j = i + 1
        if j >= n:
            break
        if (kind > 0) == (units == 0.0):
            cash_at[last:j] = cash
            units_at[last:j] = units
            last = j
            px = bars.open[j]
            if kind > 0:
                units = cash / (px * (1 + FEE))
                cash -= units * px * (1 + FEE)
            else:
                cash += units * px * (1 - FEE)
                units = 0.0
    cash_at[last:] = cash
    units_at[last:] = units
    equity = cash_at + units_at * bars.close
    if units:
        equity[-1] = cash + units * bars.close[-1] * (1 - FEE)
    curve = np.concatenate([[capital], equity])
    r = np.diff(curve) / curve[:-1]
    peak = np.maximum.accumulate(curve)
    return {
        "final_equity": float(equity[-1]),
        "max_drawdown_pct": float(np.max(1 - curve / peak) * 100),
        "sharpe": float(r.mean() / r.std(ddof=1) * math.sqrt(365.25 * 1440)),
    }


def _timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _line(label: str, bars: int, seconds: float, baseline: float | None = None) -> None:
    ratio = f"  ratio vs numpy {seconds / baseline:5.2f}x" if baseline else ""
    print(f"  {label:<42} {seconds:8.3f} s  {bars / seconds / 1e6:8.2f} M bars/s{ratio}")


def main() -> None:
    """Run both benchmarks and print seconds, bars per second and ratios against numpy."""
    cfg = BacktestConfig(short=10, long=20, fee_bps=Decimal(5))

    print("MA(10, 20) over 1,000,000 bars")
    bars = synthetic_bars(1_000_000, seed=42)
    t_np, base = _timed(lambda: numpy_backtest(bars, _sma(bars.close, 10), _sma(bars.close, 20)), repeat=3)
    t_vec, ours = _timed(lambda: run_vectorised(bars, cfg), repeat=3)
    _line("plain numpy (baseline)", len(bars), t_np)
    _line("vectorised engine (polars + numpy)", len(bars), t_vec, t_np)
    t_ev, ev = _timed(lambda: run_event_driven(bars, cfg))
    _line("event-driven engine (live core, Decimal)", len(bars), t_ev, t_np)
    print(
        f"  check: final equity numpy {base['final_equity']:.10g}, vectorised {ours.metrics.final_equity:.10g}, "
        f"event {ev.metrics.final_equity:.10g}; trades vectorised {ours.metrics.num_trades}, "
        f"event {ev.metrics.num_trades}"
    )

    print("sweep of 100 combinations over 100,000 bars")
    small = synthetic_bars(100_000, seed=43)
    combos = grid([SHORTS, LONGS], 1, 2)
    assert len(combos) == 100
    work = len(combos) * len(small)

    def numpy_sweep() -> list[dict[str, float]]:
        cache: dict[int, FloatArray] = {}
        rows = []
        for s, lg in combos:
            for w in (s, lg):
                if w not in cache:
                    cache[w] = _sma(small.close, w)
            rows.append(numpy_backtest(small, cache[s], cache[lg]))
        return rows

    base_cfg = BacktestConfig(short=1, long=2, fee_bps=Decimal(5))
    t_np, _ = _timed(numpy_sweep)
    t_one, _ = _timed(lambda: run_sweep(small, base_cfg, combos, workers=1))
    t_two, _ = _timed(lambda: run_sweep(small, base_cfg, combos, workers=2))
    _line("plain numpy, 1 process (baseline)", work, t_np)
    _line("vectorised sweep, 1 process", work, t_one, t_np)
    _line("vectorised sweep, 2 processes (incl. spawn)", work, t_two, t_np)


if __name__ == "__main__":
    main()
