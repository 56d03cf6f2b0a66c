"""`algopioneer backtest --strategy pairs|basis` through the real CLI app: hand numbers, shapes,
files, and the bad-input paths of the dual-leg options."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from shared.backtest.dual_data import dual_to_frame
from tests.unit.shared.backtest.helpers_dual import BASIS_FUT, BASIS_SPOT, PAIRS_A, PAIRS_B, dual_bars

runner = CliRunner()
PAIRS = ["--strategy", "pairs", "--symbols", "A-USD,B-USD", "--window", "5", "--entry-z", "1.9",
         "--exit-z", "1.0", "--hedge-ratio", "fixed", "--notional", "1000", "--base-increment", "0.0001",
         "--entry-cooldown-ms", "0", "--exit-cooldown-ms", "0"]  # fmt: skip
BASIS = ["--strategy", "basis", "--spot-id", "BTC-USD", "--future-id", "BIP-20DEC30-CDE", "--notional", "5000",
         "--contract-size", "0.01", "--entry-bps", "10", "--exit-bps", "2", "--fee-bps", "5",
         "--entry-cooldown-ms", "0", "--exit-cooldown-ms", "0"]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dual")
    out = {"pairs": root / "pairs.csv", "spot": root / "spot.parquet", "future": root / "future.csv"}
    dual_to_frame(dual_bars(PAIRS_A, PAIRS_B), ("A-USD", "B-USD")).write_csv(out["pairs"])
    basis = dual_to_frame(dual_bars(BASIS_SPOT, BASIS_FUT), ("BTC-USD", "BIP-20DEC30-CDE"))
    basis.filter(pl.col("product_id") == "BTC-USD").write_parquet(out["spot"])
    basis.filter(pl.col("product_id") != "BTC-USD").drop("product_id").write_csv(out["future"])
    return out


def _ok(*args: str) -> str:
    result = runner.invoke(app, ["backtest", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_pairs_json_from_one_long_file(files: dict[str, Path]) -> None:
    doc = json.loads(_ok("--data", str(files["pairs"]), *PAIRS, "--fee-bps", "10", "--json"))
    assert doc["strategy"] == "pairs"
    assert doc["num_trades"] == 1
    (trade,) = doc["trades"]
    assert (trade["entry_time"], trade["exit_time"]) == ("2025-01-01T00:06:00Z", "2025-01-01T00:07:00Z")
    assert trade["pnl"] == pytest.approx(106.999891)
    assert (trade["entry_price"], trade["exit_price"], trade["size"]) == (90.0, 100.0, 11.1111)
    assert (trade["leg1_side"], trade["leg2_side"], trade["leg2_size"]) == ("buy", "sell", 10.0)
    assert trade["exit_reason"] == "signal"
    assert doc["final_equity"] == pytest.approx(10_106.999891)
    assert doc["config"]["params"]["hedge_ratio"] == "fixed"


def test_basis_from_two_files_with_table_and_files(files: dict[str, Path], tmp_path: Path) -> None:
    out = _ok(
        "--data", str(files["spot"]), "--data", str(files["future"]), *BASIS, "--out-dir", str(tmp_path)
    )
    assert "basis backtest" in out
    assert "wrote 6 files" in out
    trades = pl.read_parquet(tmp_path / "trades.parquet")
    assert trades["pnl"].to_list() == pytest.approx([9.985])
    assert trades["leg2_size"].to_list() == [10.0]  # whole nano contracts
    assert (tmp_path / "chart.png").stat().st_size > 1000


def test_basis_open_position_closed_at_the_end(files: dict[str, Path], tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    pl.read_csv(files["future"]).head(3).write_csv(short)
    doc = json.loads(_ok("--data", str(files["spot"]), "--data", str(short), *BASIS, "--json"))
    (trade,) = doc["trades"]
    assert trade["exit_reason"] == "end_of_data"
    assert doc["bars_dropped_unaligned"] == [3, 0]  # spot has bars the future lacks


BAD: list[tuple[list[str], str]] = [
    (["--strategy", "pairs", "--symbols", "A-USD"], "pairs needs --symbols A,B"),
    (["--strategy", "pairs", "--spot-id", "X"], "--spot-id/--future-id are for basis"),
    (["--strategy", "basis", "--spot-id", "BTC-USD"], "basis needs --spot-id and --future-id"),
    (["--strategy", "basis", "--symbols", "A,B"], "--symbols is for pairs"),
    ([*PAIRS, "--entry-z", "0.5", "--exit-z", "1"], "invalid pairs parameters"),
    ([*PAIRS, "--window", "2"], "window must be at least 5"),
    ([*BASIS, "--exit-bps", "20"], "exit_bps must be below entry_bps"),
    ([*BASIS, "--contract-size", "0"], "--contract-size and --future-increment must be positive"),
    ([*PAIRS, "--notional", "x"], "--notional must be a number"),
    ([*PAIRS, "--sweep", "short=1:5"], "event engine only"),
    (["--strategy", "pairs", "--symbols", "A-USD,C-USD"], "no rows for product 'C-USD'"),
    ([*PAIRS, "--product-id", "A-USD"], "--product-id is for ma-crossover"),
    ([*PAIRS, "--rest-host", "localhost:1"], "only apply with --start/--end"),
    ([*PAIRS, "--start", "2026-01-01"], "not both"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_dual_inputs(files: dict[str, Path], args: list[str], message: str) -> None:
    result = runner.invoke(app, ["backtest", "--data", str(files["pairs"]), *args])
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_synthetic_is_refused_for_dual() -> None:
    result = runner.invoke(app, ["backtest", "--synthetic", *PAIRS])
    assert result.exit_code == 2
    assert "--synthetic is for ma-crossover" in result.stderr


def test_one_file_without_product_id(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("time,open,high,low,close\n2025-01-01,1,1,1,1\n")
    result = runner.invoke(app, ["backtest", "--data", str(path), *PAIRS])
    assert result.exit_code == 2
    assert "needs a 'product_id' column" in result.stderr
