"""Trading commands talk to the stack over NATS: specs land in KV, control goes to risk."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import ControlCommand, ControlReply, Fill, PairsParams, Position, StrategySpec
from shared.testing.samples import every_message
from tests.cli.helpers import ExecutionRunning

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def stack(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NATS_URL", nats_url)
    return nats_url


def _kv_get(url: str, bucket: str, key: str, value_type: type) -> object:
    async def run() -> object:
        bus = await Bus.connect(NatsSettings(url=url), service="test")
        try:
            entry = await (await bus.kv(bucket, value_type)).get(key)
            return None if entry is None else entry.value
        finally:
            await bus.close()

    return asyncio.run(run())


def test_trade_writes_a_validated_spec(stack: str) -> None:
    with ExecutionRunning(stack, "paper"):  # a paper spec needs a paper execution on the stack
        result = runner.invoke(
            app, ["trade", "--product-id", "BTC-USD", "--duration", "30", "--id", "ma-cli"]
        )
    assert result.exit_code == 0, result.output
    spec = _kv_get(stack, subjects.KV_STRATEGY_SPECS, "ma-cli", StrategySpec)
    assert isinstance(spec, StrategySpec)
    assert spec.kind == "ma_crossover"
    assert spec.products == ("BTC-USD",)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pairs", "--symbols", "ETH-USD"], "exactly two products"),
        (["pairs", "--symbols", "ETH-USD,ETH-USD"], "params.leg1_id"),
        (["trade", "--product-id", "BTC-USD", "--short", "30", "--long", "20"], "params.short_window"),
        (["trade", "--product-id", "BTC-USD", "--order-size", "NaN"], "order_size"),
        (["basistrade", "--spot-id", "BTC-USD"], "--future-id is required"),
        (["stop", "no-such-instance"], "no such instance"),
    ],
)
def test_bad_input_is_a_one_line_error(stack: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_portfolio_file_round_trip_and_stop(stack: str, tmp_path: Path) -> None:
    specs = [
        StrategySpec(id="p-eth-btc", params=PairsParams(leg1_id="ETH-USD", leg2_id="BTC-USD")),
        StrategySpec(id="p-sol-eth", params=PairsParams(leg1_id="SOL-USD", leg2_id="ETH-USD", window=30)),
    ]
    config = tmp_path / "pairs.json"
    config.write_bytes(msgspec.json.encode(specs))
    with ExecutionRunning(stack, "paper"):
        result = runner.invoke(app, ["portfolio", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert _kv_get(stack, subjects.KV_STRATEGY_SPECS, "p-sol-eth", StrategySpec) == specs[1]
    assert runner.invoke(app, ["stop", "p-sol-eth"]).exit_code == 0
    assert _kv_get(stack, subjects.KV_STRATEGY_SPECS, "p-sol-eth", StrategySpec) is None

    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": "x", "params": {"type": "pairs", "leg1_id": "A"}}]')
    result = runner.invoke(app, ["portfolio", "--config", str(bad)])
    assert result.exit_code == 2
    assert "leg2_id" in result.output


def test_positions_json_has_the_documented_shape(stack: str) -> None:
    position = Position(
        strategy_id="cli-test",
        venue="coinbase",
        product_id="BTC-USD",
        quantity=Decimal("0.002"),
        average_price=Decimal("97000"),
        realized_pnl=Decimal("1.25"),
        fees=Decimal("0.5"),
        unrealized_pnl=Decimal("-0.25"),
        updated_ns=1,
    )
    fill = next(x for x in every_message() if isinstance(x, Fill))

    async def seed() -> None:
        bus = await Bus.connect(NatsSettings(url=stack), service="test")
        await streams.provision(bus.js)
        kv = await bus.kv(subjects.KV_POSITIONS, Position)
        for key in await kv.keys():
            await kv.delete(key)
        await kv.put("cli-test.BTC-USD", position)
        for trade_id in ("cli-f1", "cli-f2"):
            own = msgspec.structs.replace(fill, strategy_id="cli-test", trade_id=trade_id)
            await bus.publish_durable(subjects.fill("coinbase", "BTC-USD"), own, msg_id=trade_id)
        await bus.close()

    asyncio.run(seed())
    result = runner.invoke(app, ["positions", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    mine = next(s for s in body["strategies"] if s["id"] == "cli-test")
    assert mine["positions"] == [{"product_id": "BTC-USD", "size": "0.002", "avg_price": "97000"}]
    assert mine["num_fills"] == 2
    assert (mine["realized_pnl"], mine["unrealized_pnl"], mine["fees"]) == ("1.25", "-0.25", "0.5")
    assert set(body["portfolio"]) == {"realized_pnl", "unrealized_pnl", "fees", "gross_exposure"}
    assert "num_fills" in runner.invoke(app, ["positions", "--help"]).output


def test_halt_reaches_the_risk_service_over_request_reply(stack: str) -> None:
    received: list[ControlCommand] = []

    async def fake_risk_then_halt() -> None:
        bus = await Bus.connect(NatsSettings(url=stack), service="risk-standin")

        async def answer(cmd: ControlCommand) -> ControlReply:
            received.append(cmd)
            return ControlReply(ok=True, detail=f"kill switch on: {cmd.reason}")

        await bus.serve(subjects.RISK_CONTROL, ControlCommand, answer)
        await bus.nc.flush()
        started = time.monotonic()
        result = await asyncio.to_thread(runner.invoke, app, ["halt", "--reason", "drill"])
        assert time.monotonic() - started < 10
        assert result.exit_code == 0, result.output
        assert "kill switch on: drill" in result.output
        await bus.close()

    asyncio.run(fake_risk_then_halt())
    assert received[0].action == "halt"


def test_halt_without_risk_service_says_so(stack: str) -> None:
    result = runner.invoke(app, ["halt", "--reason", "nobody home"])
    assert result.exit_code == 2
    assert "risk service did not answer" in result.output
