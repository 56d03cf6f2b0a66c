"""A PNG a person can open: price with entries and exits, equity, and drawdown.

Uses matplotlib's Agg backend (no display needed). Long series are thinned to a few thousand
points per line: a chart cannot show a million bars anyway and drawing them takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from shared.backtest.types import BacktestResult, Bars

MAX_POINTS = 4_000


def _thin(n: int) -> slice:
    return slice(None, None, max(1, n // MAX_POINTS))


def render_chart(result: BacktestResult, path: Path, bars: Bars | None = None) -> None:
    """Draw the chart to `path` (PNG)."""
    eq = result.equity
    times = eq["time"].to_numpy()
    equity = eq["equity"].to_numpy()
    step = _thin(len(times))
    rows = 3 if bars is not None else 2
    fig, axes = plt.subplots(rows, 1, figsize=(11, 3 * rows), sharex=True)
    ax_iter = iter(axes)
    if bars is not None:
        ax = next(ax_iter)
        ax.plot(times[step], bars.close[step], lw=0.8, color="0.3", label="close")
        tr = result.trades
        if tr.height and tr.height <= 2_000:
            ax.scatter(
                tr["entry_time"].to_numpy(),
                tr["entry_price"].to_numpy(),
                marker="^",
                c="g",
                s=18,
                label="entry",
            )
            ax.scatter(
                tr["exit_time"].to_numpy(), tr["exit_price"].to_numpy(), marker="v", c="r", s=18, label="exit"
            )
        ax.set_ylabel("price")
        ax.legend(loc="upper left", fontsize=8)
    ax = next(ax_iter)
    ax.plot(times[step], equity[step], lw=0.9, color="tab:blue")
    ax.set_ylabel("equity")
    m = result.metrics
    fig.suptitle(
        f"{result.config.describe()}  "
        f"return {m.return_pct:.2f}%  max DD {m.max_drawdown_pct:.2f}%  trades {m.num_trades}",
        fontsize=10,
    )
    ax = next(ax_iter)
    peak = np.maximum.accumulate(np.concatenate([[float(result.config.capital)], equity]))[1:]
    ax.fill_between(times[step], (equity / peak - 1.0)[step] * 100.0, 0.0, color="tab:red", alpha=0.4)
    ax.set_ylabel("drawdown %")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
