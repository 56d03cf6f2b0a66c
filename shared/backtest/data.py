"""Turn a raw polars frame into validated `Bars`, and make seeded synthetic bars.

Validation is strict on purpose: a backtest on unsorted or duplicated bars silently produces
plausible-looking nonsense, so every such input is refused with a message naming the first bad row.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl

from shared.backtest.errors import DataError
from shared.backtest.types import Bars

TIME_COLUMNS = ("time", "timestamp")
PRICE_COLUMNS = ("open", "high", "low", "close")
_NS = 1_000_000_000


def time_to_ns(series: pl.Series, name: str = "time") -> pl.Series:
    """Epoch nanoseconds (Int64) from a datetime, date, ISO string or epoch-number column.

    Epoch numbers are read as seconds, milliseconds, microseconds or nanoseconds by magnitude (the
    usual convention of exchange exports); naive datetimes are taken as UTC.
    """
    dtype = series.dtype
    try:
        if dtype == pl.String:
            series = series.str.to_datetime(time_unit="ns", time_zone="UTC")
            dtype = series.dtype
        if dtype == pl.Date:
            series = series.cast(pl.Datetime("ns"))
            dtype = series.dtype
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"column '{name}' has values that are not dates or times") from exc
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return series.dt.cast_time_unit("ns").cast(pl.Int64)
    if dtype.is_numeric():
        if series.null_count():
            raise DataError(f"column '{name}' has missing values")
        peak = float(series.abs().max() or 0)  # type: ignore[arg-type]
        scale = _NS if peak < 1e11 else 1_000_000 if peak < 1e14 else 1_000 if peak < 1e17 else 1
        if dtype.is_integer():  # exact: float64 cannot hold epoch nanoseconds
            return series.cast(pl.Int64) * scale
        return pl.Series(name, np.rint(series.cast(pl.Float64).to_numpy() * scale).astype(np.int64))
    raise DataError(f"column '{name}' has type {dtype}; expected a datetime, ISO string or epoch number")


def _first_bad(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def bars_from_frame(frame: pl.DataFrame, *, need_ohlc: bool = True) -> Bars:
    """Validate `frame` (columns time|timestamp, open, high, low, close[, volume]) into `Bars`.

    With `need_ohlc=False` only time and close are required (open/high/low default to close); the
    CLI always asks for full OHLC because next-open fills need the open.
    """
    columns = {c.lower(): c for c in frame.columns}
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    required = PRICE_COLUMNS if need_ohlc else ("close",)
    missing = [c for c in required if c not in columns]
    if time_col is None:
        missing.insert(0, "time")
    if missing or time_col is None:
        raise DataError(
            f"missing column(s): {', '.join(missing)} (have: {', '.join(frame.columns) or 'none'})"
        )
    if frame.height == 0:
        raise DataError("no rows")
    times = time_to_ns(frame[time_col], time_col).to_numpy()
    if frame[time_col].null_count():
        raise DataError(f"column '{time_col}' has missing values")
    steps = np.diff(times)
    if (steps < 0).any():
        row = _first_bad(steps < 0) + 1
        raise DataError(f"times are not sorted ascending: row {row + 1} is earlier than row {row}")
    if (steps == 0).any():
        row = _first_bad(steps == 0) + 1
        raise DataError(f"duplicate time at row {row + 1} (same as row {row})")
    prices: dict[str, np.ndarray] = {}
    for name in PRICE_COLUMNS:
        if name not in columns:
            continue
        col = frame[columns[name]]
        if col.dtype == pl.String:
            col = col.str.strip_chars().cast(pl.Float64, strict=False)
        try:
            values = col.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        except pl.exceptions.PolarsError as exc:
            raise DataError(f"column '{name}' is not numeric") from exc
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"column '{name}' has a missing, NaN or infinite value at row {_first_bad(bad) + 1}"
            )
        if (values <= 0).any():
            raise DataError(f"column '{name}' has a non-positive price at row {_first_bad(values <= 0) + 1}")
        prices[name] = np.ascontiguousarray(values, dtype=np.float64)
    close = prices["close"]
    return Bars(
        time=np.ascontiguousarray(times, dtype=np.int64),
        open=prices.get("open", close),
        high=prices.get("high", close),
        low=prices.get("low", close),
        close=close,
    )


def synthetic_bars(
    n: int,
    *,
    seed: int = 7,
    start_ns: int = 1_735_689_600 * _NS,
    interval_s: int = 60,
    price: Decimal = Decimal(100),
    drift: float = 0.0,
    vol: float = 0.002,
) -> Bars:
    """Seeded geometric random walk bars: same seed, same bars. For demos, tests and benchmarks.

    Each bar opens at the previous close (plus a little gap noise) so next-open fills are realistic.
    The walk itself is float array maths (like every `Bars` column); the start price is money.
    """
    if n < 1:
        raise DataError("--bars must be at least 1")
    start = float(price)
    rng = np.random.default_rng(seed)
    steps = rng.normal(drift, vol, size=n)
    close = start * np.exp(np.cumsum(steps))
    gap = rng.normal(0.0, vol / 4, size=n)
    open_ = np.empty(n)
    open_[0] = start
    open_[1:] = close[:-1]
    open_ *= np.exp(gap)
    wick = np.abs(rng.normal(0.0, vol / 2, size=(2, n)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    time = start_ns + np.arange(n, dtype=np.int64) * interval_s * _NS
    return Bars(time=time, open=open_, high=high, low=low, close=close)


def bars_to_frame(bars: Bars) -> pl.DataFrame:
    """The inverse of `bars_from_frame`, with a UTC datetime `time` column (for saving bars)."""
    return pl.DataFrame(
        {
            "time": pl.Series(bars.time).cast(pl.Datetime("ns", "UTC")),
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
        }
    )
