"""The backtester's only I/O: read bars from CSV/Parquet, write results to a directory.

Kept apart from the engines so that they stay pure and testable without a filesystem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from shared.backtest.data import bars_from_frame
from shared.backtest.errors import DataError
from shared.backtest.report import result_summary
from shared.backtest.types import BacktestResult, Bars

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: Path) -> pl.DataFrame:
    """Read a CSV or Parquet file into polars, with a one-line `DataError` for every failure."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported file type '{path.suffix}' (use .csv or .parquet)")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if kind == "csv":
            return pl.read_csv(path, infer_schema_length=10_000)
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read {kind}: {first}") from exc


def load_bars(path: Path) -> Bars:
    """Bars from a file with columns time|timestamp, open, high, low, close[, volume]."""
    try:
        return bars_from_frame(read_table(path))
    except DataError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise DataError(f"{path}: {exc}") from exc


def save_result(result: BacktestResult, out_dir: Path, bars: Bars | None = None) -> list[Path]:
    """Write trades and equity (Parquet and CSV), a summary JSON and a PNG chart; return the paths."""
    from shared.backtest.chart import render_chart  # matplotlib is slow to import; only when saving

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, frame in (("trades", result.trades), ("equity", result.equity)):
        for suffix in ("parquet", "csv"):
            path = out_dir / f"{name}.{suffix}"
            if suffix == "parquet":
                frame.write_parquet(path)
            else:
                frame.write_csv(path)
            written.append(path)
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps(result_summary(result, with_trades=False), indent=2) + "\n")
    written.append(summary)
    chart = out_dir / "chart.png"
    render_chart(result, chart, bars)
    written.append(chart)
    return written


def save_sweep(rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Write the ranked sweep table as sweep.parquet and sweep.csv; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    paths = [out_dir / "sweep.parquet", out_dir / "sweep.csv"]
    frame.write_parquet(paths[0])
    frame.write_csv(paths[1])
    return paths
