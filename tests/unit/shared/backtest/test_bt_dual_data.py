"""Two-product input (one long file or two files, aligned on shared times) and the REST pager's
pure parts (windows, times, merge of pages)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from shared.backtest.dual_data import align, dual_from_frames, dual_to_frame, load_dual
from shared.backtest.errors import DataError
from shared.backtest.rest_candles import (
    CandleQuery,
    RestSource,
    cache_path,
    page_windows,
    parse_time,
    to_frame,
)
from tests.unit.shared.backtest.helpers import make_bars
from tests.unit.shared.backtest.helpers_dual import PAIRS_A, PAIRS_B, dual_bars

IDS = ("A-USD", "B-USD")


def test_long_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "two.parquet"
    dual_to_frame(dual_bars(PAIRS_A, PAIRS_B), IDS).write_parquet(path)
    got = load_dual([path], IDS)
    assert got.leg1.close.tolist() == PAIRS_A
    assert got.leg2.close.tolist() == PAIRS_B
    swapped = load_dual([path], ("B-USD", "A-USD"))
    assert swapped.leg1.close.tolist() == PAIRS_B


def test_only_shared_times_are_kept() -> None:
    a, b = make_bars([1, 2, 3, 4, 5]), make_bars([10, 20, 30, 40])
    b = b.slice(1, 4)  # b lacks a's first bar
    got = align(a, b)
    assert got.leg1.close.tolist() == [2, 3, 4]
    assert got.leg2.close.tolist() == [20, 30, 40]
    assert got.dropped == (2, 0)
    with pytest.raises(DataError, match="share 1 bar time"):
        align(a.slice(0, 2), a.slice(1, 3))


def test_a_bad_leg_is_named() -> None:
    frame = dual_to_frame(dual_bars(PAIRS_A, PAIRS_B), IDS)
    rows = frame.filter(pl.col("product_id") == "B-USD").reverse()  # B's rows out of order
    broken = pl.concat([frame.filter(pl.col("product_id") == "A-USD"), rows])
    with pytest.raises(DataError, match="B-USD: times are not sorted"):
        dual_from_frames([broken], IDS)
    with pytest.raises(DataError, match=r"no rows for product 'C-USD'.*A-USD, B-USD"):
        dual_from_frames([frame], ("A-USD", "C-USD"))
    with pytest.raises(DataError, match="two files"):
        dual_from_frames([frame, frame, frame], IDS)


def test_page_windows_cover_the_range_without_overlap() -> None:
    windows = page_windows(0, 60 * 700, 60, 300)
    assert windows == [(0, 18_000), (18_000, 36_000), (36_000, 42_000)]
    assert page_windows(0, 60, 60) == [(0, 60)]


def test_times_and_query_checks() -> None:
    assert parse_time("2026-01-01T00:00:00Z", "--start") == 1_767_225_600
    assert parse_time("2026-01-01", "--start") == 1_767_225_600
    assert parse_time("1767225600", "--start") == 1_767_225_600
    with pytest.raises(DataError, match="--end must be ISO-8601"):
        parse_time("yesterday", "--end")
    with pytest.raises(DataError, match="--granularity must be one of"):
        CandleQuery("BTC-USD", 0, 600, 61)
    with pytest.raises(DataError, match="--end must be after --start"):
        CandleQuery("BTC-USD", 600, 600)


def test_pages_are_merged_sorted_and_deduplicated() -> None:
    q = CandleQuery("BTC-USD", 120, 360, 60)

    def row(start: int, close: str) -> dict[str, str]:
        return {"start": str(start), "open": "1", "high": "2", "low": "0.5", "close": close, "volume": "3"}

    # Newest first, a bucket repeated across pages, one outside the range on each side.
    rows = [
        row(300, "5"),
        row(240, "4"),
        row(360, "x"),
        row(240, "4.5"),
        row(180, "3"),
        row(120, "2"),
        row(60, "y"),
    ]
    frame = to_frame(rows, q)
    assert frame["timestamp"].dt.epoch("s").to_list() == [120, 180, 240, 300]
    assert frame["close"].to_list() == [2.0, 3.0, 4.5, 5.0]  # the last page's copy wins
    with pytest.raises(DataError, match="malformed row"):
        to_frame([{"start": "120"}], q)


def test_cache_path_names_the_whole_request(tmp_path: Path) -> None:
    src = RestSource("127.0.0.1:8443", tmp_path)
    path = cache_path(src, CandleQuery("BTC-USD", 0, 600, 60))
    assert path == tmp_path / "127.0.0.1_8443" / "BTC-USD_60s_0_600.parquet"


def test_two_files_that_name_their_product_must_be_in_leg_order() -> None:
    frame = dual_to_frame(dual_bars(PAIRS_A, PAIRS_B), IDS)
    a, b = (frame.filter(pl.col("product_id") == p) for p in IDS)
    assert dual_from_frames([a, b.drop("product_id")], IDS).leg1.close.tolist() == PAIRS_A
    with pytest.raises(DataError, match="no rows for product 'A-USD'"):
        dual_from_frames([b, a], IDS)
