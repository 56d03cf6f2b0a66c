"""Two products' bars for the pairs and basis backtests, aligned on the times both have.

Input is either one long file (`timestamp, product_id, open, high, low, close[, volume]`, the shape
exchange exports and our candle cache use) or two single-product files, leg 1 first. Each leg is
validated like any bars file (sorted, no duplicates, positive prices); the legs are then joined on
time, because the live engine only ever decides on a synchronised pair of quotes. Bars one leg has
and the other lacks are dropped and counted, never filled forward (that would invent prices).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from shared.backtest.data import bars_from_frame
from shared.backtest.dual_types import DualBars
from shared.backtest.errors import DataError
from shared.backtest.io import read_table
from shared.backtest.types import Bars

PRODUCT_COLUMN = "product_id"


def _product_column(frame: pl.DataFrame) -> str | None:
    return next((c for c in frame.columns if c.lower() == PRODUCT_COLUMN), None)


def _rows_of(frame: pl.DataFrame, col: str, product: str) -> pl.DataFrame:
    ids = frame[col].cast(pl.String)
    part = frame.filter(ids == product)
    if part.height == 0:
        have = sorted({str(x) for x in ids.unique().to_list() if x is not None})[:10]
        raise DataError(f"no rows for product '{product}' (products in the data: {', '.join(have)})")
    return part.drop(col)


def split_products(frame: pl.DataFrame, products: tuple[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of each product from a long frame (file order kept, so unsorted input is refused)."""
    col = _product_column(frame)
    if col is None:
        raise DataError(
            f"one file for two products needs a '{PRODUCT_COLUMN}' column (have: {', '.join(frame.columns)});"
            " or give two files, leg 1 first"
        )
    return _rows_of(frame, col, products[0]), _rows_of(frame, col, products[1])


def align(leg1: Bars, leg2: Bars) -> DualBars:
    """Keep only the times both legs have; refuse data where fewer than two times are shared."""
    common, i1, i2 = np.intersect1d(leg1.time, leg2.time, assume_unique=True, return_indices=True)
    if common.size < 2:
        raise DataError(
            f"the two products share {common.size} bar time(s); need at least 2 (same granularity and clock?)"
        )

    def pick(bars: Bars, idx: np.ndarray) -> Bars:
        return Bars(common, bars.open[idx], bars.high[idx], bars.low[idx], bars.close[idx])

    dropped = (len(leg1) - int(common.size), len(leg2) - int(common.size))
    return DualBars(pick(leg1, i1), pick(leg2, i2), dropped)


def dual_from_frames(frames: Sequence[pl.DataFrame], products: tuple[str, str]) -> DualBars:
    """One long frame (with `product_id`) or one frame per leg → aligned `DualBars`."""
    if len(frames) == 1:
        pair = split_products(frames[0], products)
    elif len(frames) == 2:
        pair = (frames[0], frames[1])
    else:
        raise DataError(f"give one file with a product_id column or two files; got {len(frames)}")
    legs = []
    for product, frame in zip(products, pair, strict=True):
        col = _product_column(frame)
        if col is not None:  # a per-leg file that names its product must name the right one
            frame = _rows_of(frame, col, product)
        try:
            legs.append(bars_from_frame(frame))
        except DataError as exc:
            raise DataError(f"{product}: {exc}") from exc
    return align(legs[0], legs[1])


def load_dual(paths: Sequence[Path], products: tuple[str, str]) -> DualBars:
    """Read the file(s) and build aligned bars; errors name the file or product at fault."""
    frames = [read_table(path) for path in paths]
    try:
        return dual_from_frames(frames, products)
    except DataError as exc:
        if len(paths) == 1:
            raise DataError(f"{paths[0]}: {exc}") from exc
        raise


def dual_to_frame(bars: DualBars, products: tuple[str, str]) -> pl.DataFrame:
    """The long-format frame `load_dual` reads (for tests and for saving fetched candles)."""
    frames = []
    for product, leg in zip(products, (bars.leg1, bars.leg2), strict=True):
        frames.append(
            pl.DataFrame(
                {
                    "timestamp": pl.Series(leg.time).cast(pl.Datetime("ns", "UTC")),
                    PRODUCT_COLUMN: [product] * len(leg),
                    "open": leg.open,
                    "high": leg.high,
                    "low": leg.low,
                    "close": leg.close,
                }
            )
        )
    return pl.concat(frames).sort("timestamp", maintain_order=True)
