"""The trading commands write a spec only when an execution serving its order venue is heartbeating:
paper by default, live only with `--live`, and never a paper instance flipped to live in place."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from shared import subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import MaCrossoverParams, Mode, PairsParams, StrategySpec
from tests.cli.helpers import ExecutionRunning, no_executions, write_heartbeat

pytestmark = pytest.mark.integration
runner = CliRunner()
NO_PAPER = (
    "no paper execution is running on this stack (coinbase-paper): start one, or use --live on a live stack"
)
NO_LIVE = "no live execution is running on this stack (coinbase): going live needs `algopioneer up --live`"


@pytest.fixture
def stack(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The session's server with no execution heartbeating and none of this file's specs."""
    monkeypatch.setenv("NATS_URL", nats_url)
    no_executions(nats_url)
    yield nats_url
    no_executions(nats_url)
    for sid in ("r-ma", "r-pairs-a", "r-pairs-b"):
        runner.invoke(app, ["stop", sid])


def _spec(url: str, sid: str) -> StrategySpec | None:
    async def run() -> StrategySpec | None:
        bus = await Bus.connect(NatsSettings(url=url), service="test")
        try:
            entry = await (await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)).get(sid)
            return None if entry is None else entry.value
        finally:
            await bus.close()

    return asyncio.run(run())


def _refused(args: list[str], reason: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert result.output.strip() == f"error: {reason}"  # one line, the reason


def test_a_paper_spec_is_refused_without_a_paper_execution(stack: str) -> None:
    _refused(["trade", "--product-id", "BTC-USD", "--id", "r-ma"], NO_PAPER)
    with ExecutionRunning(stack, "live"):
        _refused(["trade", "--product-id", "BTC-USD", "--id", "r-ma"], NO_PAPER)
    assert _spec(stack, "r-ma") is None


def test_a_live_spec_is_refused_without_a_live_execution(stack: str) -> None:
    with ExecutionRunning(stack, "paper"):
        _refused(["trade", "--product-id", "BTC-USD", "--id", "r-ma", "--live"], NO_LIVE)
        _refused(["pairs", "--symbols", "ETH-USD,BTC-USD", "--id", "r-pairs-a", "--live"], NO_LIVE)
    assert _spec(stack, "r-ma") is None
    assert _spec(stack, "r-pairs-a") is None


def test_a_spec_is_written_when_an_execution_of_its_mode_runs(stack: str) -> None:
    with ExecutionRunning(stack, "paper"):
        result = runner.invoke(app, ["trade", "--product-id", "BTC-USD", "--id", "r-ma"])
        assert result.exit_code == 0, result.output
        assert "orders to coinbase-paper" in result.output
    paper = _spec(stack, "r-ma")
    assert paper is not None
    assert (paper.mode, paper.order_venue) == (Mode.PAPER, "coinbase-paper")
    with ExecutionRunning(stack, "live"):
        result = runner.invoke(app, ["pairs", "--symbols", "ETH-USD,BTC-USD", "--id", "r-pairs-a", "--live"])
        assert result.exit_code == 0, result.output
    live = _spec(stack, "r-pairs-a")
    assert live is not None
    assert (live.mode, live.order_venue) == (Mode.LIVE, "coinbase")


def test_a_portfolio_is_written_whole_or_not_at_all(stack: str, tmp_path: Path) -> None:
    """The file's own modes do not count: the flag decides, and --live needs a live execution."""
    specs = [
        StrategySpec(
            id="r-pairs-a", params=PairsParams(leg1_id="ETH-USD", leg2_id="BTC-USD"), mode=Mode.LIVE
        ),
        StrategySpec(id="r-pairs-b", params=PairsParams(leg1_id="SOL-USD", leg2_id="ETH-USD")),
    ]
    config = tmp_path / "pairs.json"
    config.write_bytes(msgspec.json.encode(specs))
    with ExecutionRunning(stack, "paper"):
        _refused(["portfolio", "--config", str(config), "--live"], NO_LIVE)
        assert _spec(stack, "r-pairs-b") is None
        result = runner.invoke(app, ["portfolio", "--config", str(config)])
        assert result.exit_code == 0, result.output
    assert [s.mode if s else None for s in (_spec(stack, "r-pairs-a"), _spec(stack, "r-pairs-b"))] == [
        Mode.PAPER,
        Mode.PAPER,
    ]


def test_an_execution_that_stopped_heartbeating_does_not_count(stack: str) -> None:
    write_heartbeat(stack, "paper", key="stopped", age_s=60)
    _refused(["trade", "--product-id", "BTC-USD", "--id", "r-ma"], NO_PAPER)
    write_heartbeat(stack, "paper", key="stopped")
    assert runner.invoke(app, ["trade", "--product-id", "BTC-USD", "--id", "r-ma"]).exit_code == 0


def test_a_running_instance_is_not_switched_between_paper_and_live_in_place(stack: str) -> None:
    """Its positions are on the old venue: stop it first, or start the other mode under another id."""
    write_heartbeat(stack, "live", key="live-beside")
    with ExecutionRunning(stack, "paper"):
        assert runner.invoke(app, ["trade", "--product-id", "BTC-USD", "--id", "r-ma"]).exit_code == 0
        _refused(
            ["trade", "--product-id", "BTC-USD", "--id", "r-ma", "--live"],
            "instance r-ma trades paper (coinbase-paper): stop it first (`algopioneer stop r-ma`)"
            " or use another --id",
        )
        spec = _spec(stack, "r-ma")
        assert spec is not None
        assert spec.mode is Mode.PAPER
        assert isinstance(spec.params, MaCrossoverParams)
        assert runner.invoke(app, ["stop", "r-ma"]).exit_code == 0
        result = runner.invoke(app, ["trade", "--product-id", "BTC-USD", "--id", "r-ma", "--live"])
        assert result.exit_code == 0, result.output
    spec = _spec(stack, "r-ma")
    assert spec is not None
    assert spec.mode is Mode.LIVE
