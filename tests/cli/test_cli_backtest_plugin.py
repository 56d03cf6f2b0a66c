"""`algopioneer backtest --strategy FILE.py:Class|module:Class` through the real CLI app: a user's
strategy file, its params, its products' data, and every mistake as one line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from shared.backtest import synthetic_bars
from shared.backtest.data import bars_to_frame

runner = CliRunner()

STRATEGY = '''\
"""Buys on a bar that closes above its open, sells the position on one that closes below."""

from decimal import Decimal

from shared.sdk import Bar, Context, Data, Params, Strategy


class UpDownParams(Params, frozen=True):
    products: str = "BTC-USD"
    size: Decimal = Decimal("0.5")
    fail_after: int = 0


class UpDown(Strategy[UpDownParams]):
    def __init__(self, params: UpDownParams) -> None:
        super().__init__(params)
        self.bars = 0

    def products(self) -> tuple[str, ...]:
        return tuple(self.params.products.split(","))

    def data(self) -> Data:
        return Data(bars_s=60)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        self.bars += 1
        if self.params.fail_after and self.bars > self.params.fail_after:
            raise ValueError(f"bar {self.bars} is one too many")
        held = ctx.position(bar.product_id)
        if not held and bar.close > bar.open:
            ctx.buy(bar.product_id, self.params.size)
        elif held and bar.close < bar.open:
            ctx.close(bar.product_id)
'''


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    (tmp_path / "up_down.py").write_text(STRATEGY)
    return tmp_path


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["backtest", *args])
    return result.exit_code, result.stdout, result.stderr


def _ok(*args: str) -> dict[str, Any]:
    code, out, err = _run(*args, "--json")
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def _fails(*args: str) -> str:
    code, _, err = _run(*args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_strategy_file_backtests_on_synthetic_bars(user_dir: Path) -> None:
    ref = f"{user_dir / 'up_down.py'}:UpDown"
    doc = _ok("--strategy", ref, "--param", "size=2", "--synthetic", "--bars", "300", "--fee-bps", "10")
    assert doc["strategy"] == "UpDown"
    assert doc["params"] == {"products": "BTC-USD", "size": "2", "fail_after": 0}
    assert doc["products"] == ["BTC-USD"]
    assert doc["config"]["strategy"] == ref
    assert doc["config"]["maker_fee_bps"] == "10"  # defaults to --fee-bps
    assert doc["num_trades"] == len(doc["trades"]) > 10
    assert {t["product_id"] for t in doc["trades"]} == {"BTC-USD"}
    assert all(t["size"] == 2.0 for t in doc["trades"])


def test_several_products_from_one_long_file_or_one_file_each(user_dir: Path) -> None:
    frames = []
    for k, product in enumerate(("AAA-USD", "BBB-USD")):
        frame = bars_to_frame(synthetic_bars(200, seed=k, interval_s=60)).rename({"time": "timestamp"})
        frame.write_csv(user_dir / f"{product}.csv")
        frames.append(frame.with_columns(pl.lit(product).alias("product_id")))
    pl.concat(frames).sort("timestamp").write_csv(user_dir / "long.csv")
    args = ("--strategy", f"{user_dir / 'up_down.py'}:UpDown", "--param", "products=AAA-USD,BBB-USD")
    long = _ok(*args, "--data", str(user_dir / "long.csv"))
    each = _ok(*args, "--data", str(user_dir / "AAA-USD.csv"), "--data", str(user_dir / "BBB-USD.csv"))
    assert long["trades"] == each["trades"]
    assert {t["product_id"] for t in long["trades"]} == {"AAA-USD", "BBB-USD"}
    line = _fails(*args, "--data", str(user_dir / "AAA-USD.csv"))
    assert "one file for 2 products needs a 'product_id' column" in line


def test_the_built_in_ma_crossover_by_module_reference_trades_as_ma_crossover(user_dir: Path) -> None:
    bars = ("--synthetic", "--bars", "2000", "--interval", "120", "--fee-bps", "20", "--slippage-bps", "5")
    classic = _ok("--strategy", "ma-crossover", "--short", "5", "--long", "20", "--size", "0.001", *bars)
    plugin = _ok(
        "--strategy", "shared.strategies.ma_strategy:MaCrossoverStrategy", "--param", "product_id=BTC-USD",
        "--param", "interval_s=120", *bars,
    )  # fmt: skip
    assert classic["num_trades"] > 10
    keys = ("entry_time", "exit_time", "entry_price", "exit_price", "size")
    assert [[t[k] for k in keys] for t in plugin["trades"]] == [
        [t[k] for k in keys] for t in classic["trades"]
    ]


def test_results_are_written_like_any_backtest(user_dir: Path, tmp_path: Path) -> None:
    code, out, err = _run(
        "--strategy", f"{user_dir / 'up_down.py'}:UpDown", "--synthetic", "--bars", "300",
        "--out-dir", str(tmp_path / "res"),
    )  # fmt: skip
    assert code == 0, err
    assert "UpDown backtest" in out
    assert pl.read_parquet(tmp_path / "res" / "trades.parquet")["product_id"].unique().to_list() == [
        "BTC-USD"
    ]
    assert (tmp_path / "res" / "chart.png").stat().st_size > 1000


def test_a_strategy_that_raises_is_one_line(user_dir: Path) -> None:
    line = _fails("--strategy", f"{user_dir / 'up_down.py'}:UpDown", "--param", "fail_after=3", "--synthetic")
    raised = next(n for n, text in enumerate(STRATEGY.splitlines(), 1) if "raise ValueError" in text)
    assert line == (
        f"error: UpDown failed at 2025-01-01T00:04:00Z (up_down.py:{raised} in on_bar):"
        " ValueError: bar 4 is one too many"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "size=lots"], "invalid params: size"),
        (["--param", "colour=red"], "invalid params"),
        (["--param", "size"], "--param 'size': want NAME=VALUE"),
        (["--sweep", "short=5:10:5"], "--sweep is not for your own strategy"),
        (["--size", "1"], "--size is not for your own strategy"),
        (["--engine", "vectorised"], "--engine vectorised is not for your own strategy"),
        (["--price-increment", "0"], "--price-increment must be a positive number"),
    ],
)
def test_bad_plugin_input_is_one_line(user_dir: Path, args: list[str], message: str) -> None:
    line = _fails("--strategy", f"{user_dir / 'up_down.py'}:UpDown", "--synthetic", *args)
    assert message in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nowhere.py:Thing"], "no such file: nowhere.py"),
        (["--strategy", "shared.money:ZERO"], "ZERO is not a Strategy"),
        (["--strategy", "momentum"], "'momentum' is not supported"),
        (
            ["--strategy", "ma-crossover", "--param", "x=1"],
            "--param and --maker-fee-bps are for your own strategy",
        ),
    ],
)
def test_bad_references_are_one_line(args: list[str], message: str) -> None:
    assert message in _fails(*args, "--synthetic")


TWO_LEG = """\
from collections import deque
from decimal import Decimal

from shared.sdk import Context, Decision, Direction, SignalAction, TwoLegParams, TwoLegStrategy


class RatioParams(TwoLegParams, frozen=True):
    window: int = 20
    band: float = 0.002
    fail_at: int = 0


class Ratio(TwoLegStrategy[RatioParams]):
    def __init__(self, params: RatioParams) -> None:
        super().__init__(params)
        self.ratios: deque[float] = deque(maxlen=params.window)

    def legs(self) -> tuple[str, str]:
        return "AAA-USD", "BBB-USD"

    def signal(self, p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
        if len(self.ratios) == self.params.fail_at > 0:
            raise ZeroDivisionError("no ratio")
        ratio = float(p1 / p2)
        mean = sum(self.ratios) / len(self.ratios) if self.ratios else ratio
        self.ratios.append(ratio)
        dev = ratio / mean - 1
        if held is None and abs(dev) > self.params.band:
            action = SignalAction.ENTER_LONG if dev < 0 else SignalAction.ENTER_SHORT
            return Decision(action=action, value=dev, reason="apart")
        if held is not None and abs(dev) < self.params.band / 2:
            return Decision(action=SignalAction.EXIT, value=dev, reason="back")
        return Decision(value=dev)
"""


def test_a_two_leg_strategy_file_runs_on_the_dual_leg_machine(tmp_path: Path) -> None:
    (tmp_path / "ratio.py").write_text(TWO_LEG)
    ref = f"{tmp_path / 'ratio.py'}:Ratio"
    params = (
        "--param",
        "entry_cooldown_ms=0",
        "--param",
        "exit_cooldown_ms=0",
        "--param",
        "min_profit_bps=-1000",
    )
    doc = _ok("--strategy", ref, *params, "--synthetic", "--bars", "500")
    assert doc["products"] == ["AAA-USD", "BBB-USD"]
    assert doc["num_trades"] > 0
    assert {t["leg1_product_id"] for t in doc["trades"]} == {"AAA-USD"}
    line = _fails("--strategy", ref, *params, "--param", "fail_at=5", "--synthetic")
    assert line.startswith("error: Ratio failed (ratio.py:")
    assert line.endswith(" in signal): ZeroDivisionError: no ratio")
