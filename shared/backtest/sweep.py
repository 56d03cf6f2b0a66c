"""Parameter sweeps of the vectorised engine over a short × long grid, in worker processes.

Each worker receives the bars once (pool initializer) and caches every moving average it computed,
so a 10 × 10 grid computes 20 averages instead of 200. Combinations with short >= long are skipped.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from shared.backtest.errors import BacktestError
from shared.backtest.report import metrics_dict
from shared.backtest.types import Average, BacktestConfig, Bars, FloatArray, Metrics
from shared.backtest.vectorised import moving_average, simulate

SWEEPABLE = ("short", "long")
SORTABLE = tuple(f.name for f in dataclasses.fields(Metrics))
ASCENDING = {"max_drawdown_pct"}


def parse_range(spec: str) -> tuple[str, list[int]]:
    """`short=5:50:5` (inclusive start:stop:step), `short=5,10,20` or `short=10` → ("short", values)."""
    name, sep, body = spec.partition("=")
    name = name.strip()
    if not sep or name not in SWEEPABLE:
        raise BacktestError(f"bad --sweep '{spec}': expected short=START:STOP:STEP or long=A,B,C")
    try:
        if ":" in body:
            parts = [int(p) for p in body.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1
            if step <= 0 or stop < start:
                raise BacktestError(f"bad --sweep '{spec}': need STOP >= START and STEP > 0")
            values = list(range(start, stop + 1, step))
        else:
            values = [int(p) for p in body.split(",")]
    except ValueError as exc:
        raise BacktestError(f"bad --sweep '{spec}': values must be whole numbers") from exc
    if not values or min(values) < 1:
        raise BacktestError(f"bad --sweep '{spec}': windows must be at least 1")
    return name, sorted(set(values))


def grid(specs: list[str], short: int, long: int) -> list[tuple[int, int]]:
    """All valid (short, long) pairs; an axis not swept keeps the given `short` or `long`."""
    axes: dict[str, list[int]] = {"short": [short], "long": [long]}
    for spec in specs:
        name, values = parse_range(spec)
        axes[name] = values
    combos = [(s, lg) for s in axes["short"] for lg in axes["long"] if s < lg]
    if not combos:
        raise BacktestError("--sweep has no combination with short < long")
    return combos


_BARS: Bars | None = None
_BASE: BacktestConfig | None = None
_CACHE: dict[tuple[int, Average], FloatArray] = {}


def _init(bars: Bars, base: BacktestConfig) -> None:
    global _BARS, _BASE
    _BARS, _BASE = bars, base
    _CACHE.clear()


def _ma(window: int, average: Average) -> FloatArray:
    assert _BARS is not None
    key = (window, average)
    if key not in _CACHE:
        _CACHE[key] = moving_average(_BARS.close, window, average)
    return _CACHE[key]


def _run_one(short: int, long: int) -> dict[str, Any]:
    assert _BARS is not None
    assert _BASE is not None
    cfg = dataclasses.replace(_BASE, short=short, long=long)
    *_, metrics = simulate(_BARS, cfg, _ma(short, cfg.average), _ma(long, cfg.average))
    return {"short": short, "long": long, **metrics_dict(metrics)}


def run_sweep(
    bars: Bars,
    base: BacktestConfig,
    combos: list[tuple[int, int]],
    *,
    workers: int = 2,
    on_done: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every combination; rows in completion order. `on_done(done, total)` reports progress."""
    total = len(combos)
    rows: list[dict[str, Any]] = []
    if workers <= 1 or total == 1:
        _init(bars, base)
        for s, lg in combos:
            rows.append(_run_one(s, lg))
            if on_done:
                on_done(len(rows), total)
        return rows
    # "spawn", not the Linux default "fork": polars' thread pool does not survive a fork and the
    # workers deadlock on their first polars call.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init, initargs=(bars, base)
    ) as pool:
        # Group by short window so that each worker reuses its cached averages.
        futures = [pool.submit(_run_one, s, lg) for s, lg in sorted(combos)]
        for fut in as_completed(futures):
            rows.append(fut.result())
            if on_done:
                on_done(len(rows), total)
    return rows


def sort_rows(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Best first by metric `by` (lowest first for drawdown); undefined (None) values go last."""
    if by not in SORTABLE:
        raise BacktestError(f"--sort-by must be one of: {', '.join(SORTABLE)}")
    sign = 1.0 if by in ASCENDING else -1.0
    return sorted(rows, key=lambda r: (r[by] is None, sign * (r[by] or 0.0), r["short"], r["long"]))
