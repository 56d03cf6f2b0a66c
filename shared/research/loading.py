"""Read candle closes for many products and align them on common times (the only I/O here).

Two layouts: one long table (time, product_id, close) or a directory with one file per product
(the file name without extension is the product id; columns time, close). Only times present for
every product are kept, so the series are aligned bar for bar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from shared.backtest.data import TIME_COLUMNS, time_to_ns
from shared.backtest.errors import DataError
from shared.backtest.io import SUFFIXES, read_table
from shared.research.pairs import FloatArray


def _time_col(frame: pl.DataFrame, where: str) -> str:
    lower = {c.lower(): c for c in frame.columns}
    for name in TIME_COLUMNS:
        if name in lower:
            return lower[name]
    raise DataError(f"{where}: missing column: time (have: {', '.join(frame.columns) or 'none'})")


def _long_frame(path: Path) -> pl.DataFrame:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise DataError(f"{path}: no .csv or .parquet files in this directory")
        parts = []
        for f in files:
            frame = read_table(f)
            if "close" not in frame.columns:
                raise DataError(f"{f}: missing column: close")
            t = _time_col(frame, str(f))
            parts.append(
                frame.select(time_to_ns(frame[t], t).alias("time"), pl.col("close")).with_columns(
                    pl.lit(f.stem).alias("product_id")
                )
            )
        return pl.concat(parts, how="vertical_relaxed")
    frame = read_table(path)
    missing = [c for c in ("product_id", "close") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s): {', '.join(missing)}")
    t = _time_col(frame, str(path))
    return frame.select(time_to_ns(frame[t], t).alias("time"), pl.col("product_id"), pl.col("close"))


def load_log_prices(path: Path, products: list[str] | None = None) -> tuple[dict[str, FloatArray], int]:
    """Aligned log closes per product, and how many aligned observations there are."""
    frame = _long_frame(path).with_columns(
        pl.col("product_id").cast(pl.String), pl.col("close").cast(pl.Float64, strict=False)
    )
    if products:
        unknown = sorted(set(products) - set(frame["product_id"].unique().to_list()))
        if unknown:
            raise DataError(f"{path}: no data for product(s): {', '.join(unknown)}")
        frame = frame.filter(pl.col("product_id").is_in(products))
    bad = frame.filter(pl.col("close").is_null() | pl.col("close").is_nan() | (pl.col("close") <= 0))
    if bad.height:
        row = bad.row(0, named=True)
        raise DataError(f"{path}: missing, NaN or non-positive close for {row['product_id']}")
    if frame.select(pl.struct("time", "product_id").is_duplicated().any()).item():
        raise DataError(f"{path}: duplicate time for the same product")
    names = sorted(frame["product_id"].unique().to_list())
    if len(names) < 2:
        raise DataError(f"{path}: need at least two products, found {len(names)}")
    wide = frame.pivot(on="product_id", index="time", values="close").drop_nulls().sort("time")
    out = {name: np.log(wide[name].to_numpy().astype(np.float64)) for name in names}
    return out, wide.height
