"""Bar validation (one clear message per problem), time formats, and file round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from shared.backtest import DataError, bars_from_frame, synthetic_bars
from shared.backtest.data import bars_to_frame
from shared.backtest.io import load_bars, save_result

GOOD: dict[str, list[Any]] = {
    "time": ["2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z"],
    "open": [1.0, 2.0, 3.0],
    "high": [1.5, 2.5, 3.5],
    "low": [0.5, 1.5, 2.5],
    "close": [1.2, 2.2, 3.2],
}


def _frame(**changes: object) -> pl.DataFrame:
    data = {k: list(v) for k, v in GOOD.items()}
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value  # type: ignore[assignment]
    return pl.DataFrame(data, strict=False)


def test_good_frame() -> None:
    bars = bars_from_frame(_frame())
    assert len(bars) == 3
    assert bars.time[1] - bars.time[0] == 60 * 10**9
    assert bars.close.tolist() == [1.2, 2.2, 3.2]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"open": None}, "missing column(s): open"),
        ({"time": None, "close": None}, "missing column(s): time, close"),
        ({"time": GOOD["time"][::-1]}, "not sorted ascending: row 2 is earlier than row 1"),
        ({"time": [GOOD["time"][0]] * 2 + [GOOD["time"][2]]}, "duplicate time at row 2"),
        ({"close": [1.0, float("nan"), 2.0]}, "'close' has a missing, NaN or infinite value at row 2"),
        ({"close": [1.0, None, 2.0]}, "'close' has a missing, NaN or infinite value at row 2"),
        ({"low": [1.0, 0.0, 2.0]}, "'low' has a non-positive price at row 2"),
        ({"open": [1.0, -3.0, 2.0]}, "'open' has a non-positive price at row 2"),
        ({"high": ["1", "x", "2"]}, "'high' has a missing, NaN or infinite value at row 2"),
        ({"time": ["2025-01-01", "soon", "2025-01-03"]}, "not dates or times"),
    ],
)
def test_bad_frames(changes: dict[str, object], message: str) -> None:
    with pytest.raises(DataError) as info:
        bars_from_frame(_frame(**changes))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_empty_frame() -> None:
    with pytest.raises(DataError, match="no rows"):
        bars_from_frame(_frame().head(0))


@pytest.mark.parametrize(
    ("values", "step"),
    [
        ([1_735_689_600, 1_735_689_660], 60 * 10**9),  # seconds
        ([1_735_689_600_000, 1_735_689_660_000], 60 * 10**9),  # milliseconds
        ([1_735_689_600_000_000_000, 1_735_689_600_000_000_001], 1),  # nanoseconds
    ],
)
def test_epoch_numbers_by_magnitude(values: list[int], step: int) -> None:
    frame = pl.DataFrame(
        {"timestamp": values, "open": [1.0, 1.0], "high": [1.0, 1.0], "low": [1.0, 1.0], "close": [1.0, 1.0]}
    )
    bars = bars_from_frame(frame)
    assert bars.time[0] == 1_735_689_600 * 10**9
    assert bars.time[1] - bars.time[0] == step


def test_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    bars = synthetic_bars(100, seed=1)
    frame = bars_to_frame(bars).with_columns(pl.lit(1.0).alias("volume"))
    for name in ("b.csv", "b.parquet"):
        path = tmp_path / name
        frame.write_csv(path) if name.endswith("csv") else frame.write_parquet(path)
        loaded = load_bars(path)
        assert np.array_equal(loaded.time, bars.time)
        assert np.allclose(loaded.close, bars.close, rtol=1e-15)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_bars(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        load_bars(tmp_path / "bars.txt")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot read parquet"):
        load_bars(tmp_path / "bad.parquet")
    (tmp_path / "x.csv").write_text("time,close\n2025-01-01,1\n")
    with pytest.raises(DataError, match=r"x\.csv: missing column\(s\): open, high, low"):
        load_bars(tmp_path / "x.csv")


def test_synthetic_bars_are_seeded_and_valid() -> None:
    a, b = synthetic_bars(500, seed=9), synthetic_bars(500, seed=9)
    assert np.array_equal(a.close, b.close)
    assert not np.array_equal(a.close, synthetic_bars(500, seed=10).close)
    assert (a.high >= np.maximum(a.open, a.close)).all()
    assert (a.low <= np.minimum(a.open, a.close)).all()
    bars_from_frame(bars_to_frame(a))  # passes its own validation


def test_save_result_writes_every_file(tmp_path: Path) -> None:
    from shared.backtest import BacktestConfig, run_vectorised

    bars = synthetic_bars(400, seed=2)
    result = run_vectorised(bars, BacktestConfig(short=5, long=15))
    paths = save_result(result, tmp_path / "out", bars)
    names = sorted(p.name for p in paths)
    assert names == sorted(
        ["trades.parquet", "trades.csv", "equity.parquet", "equity.csv", "summary.json", "chart.png"]
    )
    assert (tmp_path / "out" / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert pl.read_parquet(tmp_path / "out" / "trades.parquet").height == result.trades.height
    assert pl.read_csv(tmp_path / "out" / "equity.csv").height == 400
