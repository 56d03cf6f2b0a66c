"""Strategies of one's own through the CLI: `start` by file or name, portfolio plug-in entries
(their source stored in KV for the workers), and the `new-strategy` scaffold."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from shared import subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import MaCrossoverParams, StrategySpec
from shared.messages.strategy import PluginParams, StrategyCode
from shared.sdk import loader
from shared.sdk.codestore import get_code
from shared.sdk.values import declared_products, instantiate
from tests.cli.helpers import ExecutionRunning

runner = CliRunner()

MOMO = textwrap.dedent(
    """
    from decimal import Decimal

    from shared.sdk import Bar, Context, Data, Params, Strategy


    class MomoParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        product_id: str = "BTC-USD"
        window: int = 5
        size: Decimal = Decimal("0.001")


    class Momo(Strategy[MomoParams]):
        def data(self) -> Data:
            return Data(bars_s=60)

        def on_bar(self, bar: Bar, ctx: Context) -> None:
            self.last = bar.close
    """
)


@pytest.fixture
def stack(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NATS_URL", nats_url)
    return nats_url


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside the repository holding `strategies/momo.py`, as the working directory."""
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "momo.py").write_text(MOMO)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stored(url: str, spec_id: str) -> tuple[StrategySpec | None, StrategyCode | None]:
    """The spec of an instance, and the code its params name (when they name code)."""

    async def run() -> tuple[StrategySpec | None, StrategyCode | None]:
        bus = await Bus.connect(NatsSettings(url=url), service="test")
        try:
            entry = await (await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)).get(spec_id)
            spec = None if entry is None else entry.value
            code = None
            if spec is not None and isinstance(spec.params, PluginParams) and spec.params.code:
                code = await get_code(bus, spec.params.code)
            return spec, code
        finally:
            await bus.close()

    return asyncio.run(run())


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.integration
def test_start_a_strategy_file_from_outside_the_repository(stack: str, workdir: Path) -> None:
    args = ["start", "--strategy", "strategies/momo.py:Momo", "--param", "window=7", "--products", "ETH-USD"]
    with ExecutionRunning(stack, "paper"):
        result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "started Momo instance momo-eth-usd (paper, orders to coinbase-paper) on ETH-USD" in result.output
    spec, code = stored(stack, "momo-eth-usd")
    assert spec is not None
    assert spec.params == PluginParams(
        strategy="strategies/momo.py:Momo",
        code=loader.source_sha(MOMO),
        products=("ETH-USD",),
        values={"product_id": "ETH-USD", "window": 7, "size": "0.001"},
    )
    assert code == StrategyCode(source=MOMO, filename="strategies/momo.py")
    view = runner.invoke(app, ["status", "--json", "--listen", "0.2"])
    assert view.exit_code == 0, view.output
    mine = next(i for i in json.loads(view.output)["instances"] if i["id"] == "momo-eth-usd")
    assert (mine["kind"], mine["products"]) == ("Momo", ["ETH-USD"])


@pytest.mark.integration
def test_start_a_built_in_by_name(stack: str) -> None:
    args = ["start", "--strategy", "ma_crossover", "--param", "short_window=3", "--products", "SOL-USD"]
    with ExecutionRunning(stack, "paper"):
        result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    spec, code = stored(stack, "ma-sol-usd")
    assert spec is not None
    assert code is None
    assert spec.params == MaCrossoverParams(product_id="SOL-USD", short_window=3)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("source", "params", "message"),
    [
        ("class Momo(:\n", [], "error: strategies/bad.py:1: SyntaxError: "),
        (
            "import nope_not_installed_xyz\n",
            [],
            "error: strategies/bad.py: ModuleNotFoundError: No module named",
        ),
        (MOMO.replace("class Momo(", "class Other("), [], "error: strategies/bad.py has no class Momo"),
        (MOMO, ["window=x"], "error: invalid params: window: Expected `int`, got `str`"),
        (MOMO, ["windw=3"], "error: invalid params: windw: no such field"),
        (MOMO, ["window"], "error: --param 'window': want NAME=VALUE"),
    ],
)
def test_a_bad_strategy_is_refused_before_anything_is_written(
    stack: str, workdir: Path, source: str, params: list[str], message: str
) -> None:
    (workdir / "strategies" / "bad.py").write_text(source)
    args = ["start", "--strategy", "strategies/bad.py:Momo", "--id", "bad-momo"]
    line = one_line_error([*args, *[a for p in params for a in ("--param", p)]])
    assert line.startswith(message), line
    assert stored(stack, "bad-momo") == (None, None)


@pytest.mark.integration
def test_start_refuses_products_the_strategy_does_not_trade(stack: str, workdir: Path) -> None:
    line = one_line_error(["start", "--strategy", "ma_crossover", "--products", "BTC-USD,ETH-USD"])
    assert "trades" in line or "product" in line
    line = one_line_error(
        ["start", "-s", "strategies/momo.py:Momo", "--products", "ETH-USD", "--param", "product_id=BTC-USD"]
    )
    assert line == "error: --products and --param product_id both set product_id"
    assert one_line_error(["start", "-s", "nowhere.py:X"]) == "error: no such file: nowhere.py"


@pytest.mark.integration
def test_a_portfolio_with_a_plugin_entry(stack: str, tmp_path: Path) -> None:
    folder = tmp_path / "book"
    (folder / "strategies").mkdir(parents=True)
    (folder / "strategies" / "momo.py").write_text(MOMO)
    entries = [
        {"id": "momo-sol", "strategy": "strategies/momo.py:Momo", "params": {"product_id": "SOL-USD"}},
        {"id": "ma-eth", "params": {"type": "ma_crossover", "product_id": "ETH-USD"}},
    ]
    config = folder / "portfolio.json"
    config.write_text(json.dumps(entries))
    with ExecutionRunning(stack, "paper"):
        result = runner.invoke(app, ["portfolio", "--config", str(config)])  # from another directory
    assert result.exit_code == 0, result.output
    spec, code = stored(stack, "momo-sol")
    assert spec is not None
    assert (spec.kind, spec.products) == ("Momo", ("SOL-USD",))
    assert code == StrategyCode(source=MOMO, filename="strategies/momo.py")
    assert stored(stack, "ma-eth")[0] == StrategySpec(
        id="ma-eth", params=MaCrossoverParams(product_id="ETH-USD")
    )

    config.write_text(
        json.dumps([{"id": "momo-x", "strategy": "strategies/momo.py:Momo", "params": {"size": "y"}}])
    )
    line = one_line_error(["portfolio", "--config", str(config)])
    assert line == f"error: {config}: entry 1 (momo-x): invalid params: size: Invalid decimal string"


@pytest.mark.parametrize("two_leg", [False, True])
def test_new_strategy_writes_a_file_that_loads(tmp_path: Path, two_leg: bool) -> None:
    args = [
        "new-strategy",
        "RsiReversion",
        "--dir",
        str(tmp_path / "mine"),
        *(["--two-leg"] if two_leg else []),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    path = tmp_path / "mine" / "rsi_reversion.py"
    assert f"wrote {path}" in result.output
    source = path.read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(" shared." not in line or line.startswith("from shared.sdk import ") for line in imports)
    cls = loader.load_class(f"{path}:RsiReversion")
    strategy = instantiate(cls, {})
    assert declared_products(strategy) == (("ETH-USD", "BTC-USD") if two_leg else ("BTC-USD",))
    assert one_line_error(args) == f"error: {path} exists: choose another name or folder"
    assert path.read_text() == source


@pytest.mark.parametrize("two_leg", [False, True])
def test_new_strategy_backtests_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_leg: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        runner.invoke(app, ["new-strategy", "mean_revert", *(["--two-leg"] if two_leg else [])]).exit_code
        == 0
    )
    result = runner.invoke(
        app, ["backtest", "--strategy", "mean_revert.py:MeanRevert", "--synthetic", "--json"]
    )
    assert result.exit_code == 0, result.output
