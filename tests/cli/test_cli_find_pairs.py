"""`algopioneer find-pairs` through the real CLI app: the ranked output, the portfolio file, and
every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from shared.messages.strategy import PairsParams, StrategySpec

runner = CliRunner()


def _market(n: int = 800, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = 5.0 + np.cumsum(rng.normal(0, 0.01, n))
    spread = np.zeros(n)
    for i in range(1, n):
        spread[i] = 0.85 * spread[i - 1] + rng.normal(0, 0.004)
    return {
        "ETH-USD": a,
        "SOL-USD": 1.2 * a - 2.0 + spread,
        "DOGE-USD": -1.0 + np.cumsum(rng.normal(0, 0.01, n)),
    }


def _write_long(path: Path, market: dict[str, np.ndarray]) -> Path:
    n = len(next(iter(market.values())))
    times = np.arange(n) * 3600 + 1_735_689_600
    frames = [
        pl.DataFrame({"time": times, "product_id": pid, "close": np.exp(v)}) for pid, v in market.items()
    ]
    pl.concat(frames).write_csv(path)
    return path


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_long(tmp_path_factory.mktemp("fp") / "candles.csv", _market())


def test_writes_a_portfolio_config_that_round_trips(candles: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.json"
    result = runner.invoke(app, ["find-pairs", "--data", str(candles), "--out", str(out), "--entry-z", "2.5"])
    assert result.exit_code == 0, result.stderr
    assert "SOL-USD" in result.stdout
    assert "ETH-USD" in result.stdout
    specs = msgspec.json.decode(out.read_bytes(), type=list[StrategySpec])
    assert len(specs) == 1
    params = specs[0].params
    assert isinstance(params, PairsParams)
    assert {params.leg1_id, params.leg2_id} == {"ETH-USD", "SOL-USD"}
    assert params.entry_z == 2.5
    assert json.loads(out.read_text())[0]["params"]["type"] == "pairs"


def test_json_output(candles: Path) -> None:
    result = runner.invoke(app, ["find-pairs", "--data", str(candles), "--json", "--window", "50"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["observations"] == 800
    assert doc["tested"] == 3
    (pair,) = doc["pairs"]
    assert pair["window"] == 50
    assert {"leg1", "leg2", "correlation", "p_value", "hedge_ratio", "half_life_bars"} <= set(pair)


def test_directory_of_files_and_product_filter(tmp_path: Path) -> None:
    for pid, v in _market().items():
        times = np.arange(v.size) * 60 + 1_735_689_600
        pl.DataFrame({"time": times, "close": np.exp(v)}).write_parquet(tmp_path / f"{pid}.parquet")
    args = ["find-pairs", "--data", str(tmp_path), "--products", "ETH-USD,SOL-USD", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tested"] == 1


def test_no_pair_found_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    market = _market()
    del market["SOL-USD"]
    data = _write_long(tmp_path / "c.csv", market)
    out = tmp_path / "pairs.json"
    result = runner.invoke(app, ["find-pairs", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no pair passed the filters")
    assert not out.exists()


BAD: list[tuple[list[str], str]] = [
    (["--max-pvalue", "0"], "--max-pvalue must be in"),
    (["--min-corr", "2"], "--min-corr must be in"),
    (["--top", "0"], "--top must be at least 1"),
    (["--window", "3"], "--window must be at least 5"),
    (["--entry-z", "1", "--exit-z", "1"], "--exit-z < --entry-z"),
    (["--exit-z", "-0.1"], "--exit-z < --entry-z"),
    (["--max-half-life", "0"], "--max-half-life must be positive"),
    (["--products", "ETH-USD"], "at least two different"),
    (["--products", "ETH-USD,XRP-USD"], "no data for product(s): XRP-USD"),
    (["--out", "/nonexistent-dir/pairs.json"], "directory /nonexistent-dir does not exist"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_arguments(candles: Path, args: list[str], message: str) -> None:
    _assert_one_line_error(["--data", str(candles), *args], message)


def _assert_one_line_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["find-pairs", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_data(tmp_path: Path) -> None:
    _assert_one_line_error(["--data", str(tmp_path / "none.csv")], "no such file")
    _assert_one_line_error(["--data", str(tmp_path)], "no .csv or .parquet files")
    (tmp_path / "a.csv").write_text("time,price\n1,2\n")
    _assert_one_line_error(["--data", str(tmp_path / "a.csv")], "missing column(s): product_id, close")
    short = _write_long(tmp_path / "short.csv", _market(n=20))
    _assert_one_line_error(["--data", str(short)], "only 20 times are common")


def test_missing_data_option_is_a_usage_error() -> None:
    result = runner.invoke(app, ["find-pairs"])
    assert result.exit_code == 2
    assert "--data" in result.stderr


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["find-pairs", "--help"])
    assert result.exit_code == 0
    assert "algopioneer find-pairs --data candles.parquet --out pairs.json" in result.stdout
