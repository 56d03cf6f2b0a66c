"""The bars of an SDK backtest: one series per product the strategy declares.

Files are one long file with a `product_id` column (any number of products), or one file per
product in the order of the strategy's `products()` (a single product may also come as one file
without the column). Each product's bars are validated on their own; they are not aligned (the
backtest merges them in time order, as live bars arrive). Synthetic bars are seeded per product.
A `TwoLegStrategy`'s two series are aligned instead, as the pairs and basis backtests align theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from shared.backtest.data import bars_from_frame, synthetic_bars
from shared.backtest.dual_data import (
    PRODUCT_COLUMN,
    _product_column,
    _rows_of,
    align,
    dual_from_frames,
    load_dual,
)
from shared.backtest.dual_types import DualBars
from shared.backtest.errors import BacktestError, DataError
from shared.backtest.io import read_table
from shared.backtest.sources import Source
from shared.backtest.types import Bars

Fetch = Callable[[tuple[str, ...]], list[pl.DataFrame]]
"""REST candles of these products, one long frame each (the CLI's, which reports progress)."""


def bars_by_product(frames: Sequence[pl.DataFrame], products: tuple[str, ...]) -> dict[str, Bars]:
    """One long frame (with `product_id`) or one frame per product → validated bars per product."""
    if len(frames) == 1 and (_product_column(frames[0]) is not None or len(products) > 1):
        col = _product_column(frames[0])
        if col is None:
            raise DataError(
                f"one file for {len(products)} products needs a '{PRODUCT_COLUMN}' column "
                f"(have: {', '.join(frames[0].columns)}); or give one file per product: {', '.join(products)}"
            )
        parts = [_rows_of(frames[0], col, p) for p in products]
    elif len(frames) == len(products):
        parts = list(frames)
    else:
        raise DataError(
            f"the strategy trades {len(products)} product(s) ({', '.join(products)}): give one file with a "
            f"{PRODUCT_COLUMN} column, or one file per product in that order; got {len(frames)} files"
        )
    out: dict[str, Bars] = {}
    for product, frame in zip(products, parts, strict=True):
        col = _product_column(frame)
        if col is not None:  # a per-product file that names its product must name the right one
            frame = _rows_of(frame, col, product)
        try:
            out[product] = bars_from_frame(frame)
        except DataError as exc:
            raise DataError(f"{product}: {exc}") from exc
    return out


def load_by_product(paths: Sequence[Path], products: tuple[str, ...]) -> dict[str, Bars]:
    """Read the file(s) and split them per product; errors name the file or product at fault."""
    frames = [read_table(path) for path in paths]
    try:
        return bars_by_product(frames, products)
    except DataError as exc:
        if len(paths) == 1 and not str(exc).startswith(str(paths[0])):
            raise DataError(f"{paths[0]}: {exc}") from exc
        raise


def synthetic_by_product(products: tuple[str, ...], n: int, *, seed: int, interval_s: int) -> dict[str, Bars]:
    """Seeded random-walk bars on the same times for every product (seed, seed + 1, ...)."""
    return {p: synthetic_bars(n, seed=seed + k, interval_s=interval_s) for k, p in enumerate(products)}


def series_for(
    src: Source, products: tuple[str, ...], fetch: Fetch, *, n: int, seed: int, interval_s: int
) -> dict[str, Bars]:
    """Each product's bars from the run's one source: REST candles, files or synthetic bars."""
    if src.rest is not None:
        return bars_by_product(fetch(products), products)
    if src.data:
        return load_by_product(src.data, products)
    if interval_s < 1:
        raise BacktestError("--interval must be at least 1 second")
    return synthetic_by_product(products, n, seed=seed, interval_s=interval_s)


def dual_series_for(
    src: Source, legs: tuple[str, str], fetch: Fetch, *, n: int, seed: int, interval_s: int
) -> DualBars:
    """A two-leg strategy's bars, aligned on the times both legs have (as pairs and basis)."""
    if src.rest is not None:
        return dual_from_frames(fetch(legs), legs)
    if src.data:
        if len(src.data) > 2:
            raise BacktestError("give one --data file with a product_id column, or two files (leg 1 first)")
        return load_dual(src.data, legs)
    one, two = series_for(src, legs, fetch, n=n, seed=seed, interval_s=interval_s).values()
    return align(one, two)
