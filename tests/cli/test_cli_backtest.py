"""`algopioneer backtest` through the real CLI app: output shapes, files, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from services.cli.backtest import METRICS
from services.cli.main import app
from shared.backtest import synthetic_bars
from shared.backtest.data import bars_to_frame
from shared.backtest.types import Metrics

runner = CliRunner()


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bt") / "prices.csv"
    bars_to_frame(synthetic_bars(2_000, seed=11, interval_s=3600, vol=0.01)).write_csv(path)
    return path


def _ok(*args: str) -> str:
    result = runner.invoke(app, ["backtest", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_json_output_shape(prices: Path) -> None:
    out = _ok("--data", str(prices), "--strategy", "ma-crossover", "--short", "10", "--long", "20",
              "--fill", "next-open", "--fee-bps", "20", "--capital", "10000", "--json")  # fmt: skip
    doc = json.loads(out)
    for key in ("trades", "final_equity", "return_pct", "max_drawdown_pct", "sharpe", "num_trades"):
        assert key in doc
    assert doc["num_trades"] == len(doc["trades"]) > 0
    trade = doc["trades"][0]
    assert {"entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl"} <= set(trade)
    assert trade["entry_time"].endswith("Z")
    assert doc["config"]["fee_bps"] == "20"
    assert doc["engine"] == "event"


def test_both_engines_print_the_same_trades(prices: Path) -> None:
    ev = json.loads(_ok("--data", str(prices), "--fee-bps", "10", "--json"))
    vec = json.loads(_ok("--data", str(prices), "--fee-bps", "10", "--json", "--engine", "vectorised"))
    assert [t["entry_time"] for t in ev["trades"]] == [t["entry_time"] for t in vec["trades"]]
    assert [t["pnl"] for t in ev["trades"]] == pytest.approx([t["pnl"] for t in vec["trades"]], rel=1e-9)


def test_table_output_and_files(prices: Path, tmp_path: Path) -> None:
    out = _ok("--data", str(prices), "--out-dir", str(tmp_path / "res"))
    assert "final_equity" in out
    assert "wrote 6 files" in out
    assert pl.read_parquet(tmp_path / "res" / "equity.parquet").height == 2_000
    assert (tmp_path / "res" / "chart.png").stat().st_size > 1000


def test_synthetic_data() -> None:
    doc = json.loads(_ok("--synthetic", "--bars", "500", "--seed", "3", "--json"))
    assert doc["final_equity"] > 0


def test_sweep_json_sorted(prices: Path) -> None:
    out = _ok("--data", str(prices), "--sweep", "short=4:8:2", "long=20:30:10", "--sort-by", "return_pct",
              "--workers", "1", "--json")  # fmt: skip
    doc = json.loads(out)
    assert doc["combinations"] == 6
    returns = [r["return_pct"] for r in doc["results"]]
    assert returns == sorted(returns, reverse=True)


def test_sweep_in_worker_processes_with_table(prices: Path, tmp_path: Path) -> None:
    out = _ok("--data", str(prices), "--sweep", "short=5:10:5", "--sweep", "long=20:40:20", "--workers", "2",
              "--out-dir", str(tmp_path))  # fmt: skip
    assert "sweep: 4 combinations" in out
    assert pl.read_csv(tmp_path / "sweep.csv").height == 4


def test_metric_names_match_the_engine() -> None:
    import dataclasses

    assert tuple(f.name for f in dataclasses.fields(Metrics)) == METRICS


def _bad_csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return str(path)


HEADER = "time,open,high,low,close\n"
BAD_ARGS: list[tuple[list[str], str]] = [
    ([], "give --data FILE"),
    (["--synthetic", "--data", "x.csv"], "not both"),
    (["--data", "missing.csv"], "no such file"),
    (["--data", "prices.txt"], "unsupported file type"),
    (["--synthetic", "--strategy", "momentum"], "'momentum' is not supported"),
    (["--synthetic", "--short", "20", "--long", "20"], "must be smaller than --long"),
    (["--synthetic", "--short", "0"], "--short must be at least 1"),
    (["--synthetic", "--fee-bps", "abc"], "--fee-bps must be a number"),
    (["--synthetic", "--fee-bps", "-1"], "--fee-bps must be in"),
    (["--synthetic", "--slippage-bps", "nan"], "--slippage-bps must be a finite number"),
    (["--synthetic", "--capital", "0"], "--capital must be a positive number"),
    (["--synthetic", "--size", "-2"], "--size must be a positive number"),
    (["--synthetic", "--bars", "0"], "--bars must be at least 1"),
    (["--synthetic", "--interval", "0"], "--interval must be at least 1"),
    (["--synthetic", "--sweep", "short=5:1"], "bad --sweep"),
    (["--synthetic", "--sweep", "width=1:5"], "bad --sweep"),
    (["--synthetic", "--sweep", "short=50:60:5", "long=10:20:10"], "no combination"),
    (["--synthetic", "--sweep", "short=5:10:5", "--sort-by", "luck"], "--sort-by must be one of"),
    (["--synthetic", "--sweep", "short=5:10:5", "--top", "0"], "--top and --workers"),
    (["--synthetic", "long=20:40:20"], "did you mean --sweep"),
    (["--start", "2026-01-01"], "need both --start and --end"),
    (["--start", "2026-01-02", "--end", "2026-01-01"], "--end must be after --start"),
    (["--start", "2026-01-01", "--end", "tomorrow"], "--end must be ISO-8601"),
    (["--start", "2026-01-01", "--end", "2026-01-02", "--granularity", "61"], "--granularity must be one of"),
    (["--start", "2026-01-01", "--end", "2026-01-02", "--ca-file", "nope.pem"], "--ca-file nope.pem"),
    (["--start", "2026-01-01", "--end", "2026-01-02"], "REST candles need --product-id"),
]
BAD_FILES: list[tuple[str, str]] = [
    ("time,open,close\n2025-01-01,1,1\n", "missing column(s): high, low"),
    (HEADER + "2025-01-02,1,1,1,1\n2025-01-01,1,1,1,1\n", "not sorted"),
    (HEADER + "2025-01-01,1,1,1,1\n2025-01-01,1,1,1,1\n", "duplicate time"),
    (HEADER + "2025-01-01,1,1,1,1\n2025-01-02,1,1,1,nan\n", "NaN"),
    (HEADER + "2025-01-01,1,1,1,1\n2025-01-02,1,1,1,\n", "missing"),
    (HEADER + "2025-01-01,1,1,1,1\n2025-01-02,1,1,1,0\n", "non-positive"),
    (HEADER, "no rows"),
]


def _assert_one_line_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["backtest", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "message"), BAD_ARGS, ids=[m for _, m in BAD_ARGS])
def test_bad_arguments(args: list[str], message: str) -> None:
    _assert_one_line_error(args, message)


@pytest.mark.parametrize(("text", "message"), BAD_FILES, ids=[m for _, m in BAD_FILES])
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    _assert_one_line_error(["--data", _bad_csv(tmp_path, text)], message)


def test_unwritable_out_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    _assert_one_line_error(["--synthetic", "--bars", "100", "--out-dir", str(blocker / "sub")], "error")


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["backtest", "--help"])
    assert result.exit_code == 0
    assert "algopioneer backtest --data prices.csv" in result.stdout
