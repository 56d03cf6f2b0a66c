"""Sweep grids: parsing, skipping invalid pairs, ranking, and equality with single runs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from shared.backtest import BacktestConfig, BacktestError, run_vectorised, synthetic_bars
from shared.backtest.sweep import SORTABLE, grid, parse_range, run_sweep, sort_rows


def test_parse_range_forms() -> None:
    assert parse_range("short=5:20:5") == ("short", [5, 10, 15, 20])
    assert parse_range("long=30:35") == ("long", [30, 31, 32, 33, 34, 35])
    assert parse_range("long=50,20,50") == ("long", [20, 50])
    assert parse_range("short=7") == ("short", [7])


@pytest.mark.parametrize(
    "spec", ["medium=1:2", "short", "short=a:b", "short=5:1", "short=1:5:0", "short=0,3", "short=1:2:3:4"]
)
def test_parse_range_refuses(spec: str) -> None:
    with pytest.raises(BacktestError, match="--sweep"):
        parse_range(spec)


def test_grid_skips_short_not_below_long() -> None:
    assert grid(["short=5:20:5", "long=10:20:10"], 1, 2) == [(5, 10), (5, 20), (10, 20), (15, 20)]
    assert grid(["short=3,4"], 1, 20) == [(3, 20), (4, 20)]
    with pytest.raises(BacktestError, match="no combination"):
        grid(["short=30:40:5", "long=10:20:10"], 1, 2)


def test_sweep_rows_equal_single_runs_and_sort() -> None:
    bars = synthetic_bars(2_000, seed=5)
    base = BacktestConfig(short=1, long=2)
    combos = grid(["short=3:9:3", "long=12:24:12"], 1, 2)
    rows = run_sweep(bars, base, combos, workers=1)
    assert len(rows) == len(combos) == 6
    for row in rows:
        single = run_vectorised(bars, dataclasses.replace(base, short=row["short"], long=row["long"]))
        assert row["final_equity"] == single.metrics.final_equity
    ranked = sort_rows(rows, "sharpe")
    sharpes = [r["sharpe"] for r in ranked]
    assert sharpes == sorted(sharpes, reverse=True)
    dd = [r["max_drawdown_pct"] for r in sort_rows(rows, "max_drawdown_pct")]
    assert dd == sorted(dd)


def test_sort_rows_puts_undefined_last_and_checks_the_metric() -> None:
    rows: list[dict[str, Any]] = [
        {"short": 1, "long": 2, "sharpe": None},
        {"short": 2, "long": 3, "sharpe": -1.0},
    ]
    assert [r["short"] for r in sort_rows(rows, "sharpe")] == [2, 1]
    with pytest.raises(BacktestError, match="--sort-by"):
        sort_rows(rows, "luck")
    assert "sharpe" in SORTABLE
