"""`algopioneer status --json` reads what the stack published: KV state plus live status subjects."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from rich.console import Console
from typer.testing import CliRunner

from services.cli.figures import num
from services.cli.main import app
from services.cli.positions import build_report
from services.cli.view import StackView
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import (
    BreakerState,
    Mode,
    PairsParams,
    Position,
    RiskState,
    StrategySpec,
    StrategyStatus,
)
from shared.testing.samples import every_message

pytestmark = pytest.mark.integration


def test_status_json_shows_instances_owners_breaker_and_kill_switch(
    nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NATS_URL", nats_url)
    spec = next(m for m in every_message() if isinstance(m, StrategySpec))
    state = RiskState(kill_switch=True, kill_reason="drill", breaker=BreakerState.HALF_OPEN, updated_ns=1)
    status = StrategyStatus(
        strategy_id=spec.id,
        kind="pairs",
        worker_id="w-7",
        state="in_position",
        status_ns=1,
        position=(("ETH-USD", Decimal("0.5")),),
    )

    async def scenario() -> dict[str, object]:
        bus = await Bus.connect(NatsSettings(url=nats_url), service="test")
        await streams.provision(bus.js)
        await (await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)).put(spec.id, spec)
        await (await bus.kv(subjects.KV_RISK_STATE, RiskState)).put("state", state)
        stop = asyncio.Event()

        async def publish_status() -> None:
            while not stop.is_set():
                await bus.publish(subjects.strategy_status(spec.id), status, traced=False)
                await asyncio.sleep(0.1)

        publisher = asyncio.create_task(publish_status())
        result = await asyncio.to_thread(CliRunner().invoke, app, ["status", "--json", "--listen", "0.6"])
        stop.set()
        await publisher
        await bus.close()
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    body = asyncio.run(scenario())
    instance = next(i for i in body["instances"] if i["id"] == spec.id)  # type: ignore[union-attr]
    assert instance["owner"] == "w-7"
    assert instance["state"] == "in_position"
    assert instance["position"] == {"ETH-USD": "0.5"}
    assert (instance["mode"], instance["venue"]) == (spec.mode.value, spec.order_venue)
    assert body["risk"]["kill_switch"] is True  # type: ignore[index]
    assert body["risk"]["breaker"] == "half_open"  # type: ignore[index]


def test_view_renders_without_data_and_formats_decimals() -> None:
    assert StackView().to_json()["instances"] == []
    StackView().render()
    assert num(Decimal("0E-8")) == "0"
    assert num(Decimal("1.2300")) == "1.23"
    assert num(Decimal("-0.000001")) == "-0.000001"


def test_instances_and_positions_show_paper_or_live_and_where_the_orders_go() -> None:
    view = StackView()
    pairs = PairsParams(leg1_id="ETH-USD", leg2_id="BTC-USD")
    view.specs = {
        "p-paper": StrategySpec(id="p-paper", params=pairs),
        "p-live": StrategySpec(id="p-live", params=pairs, mode=Mode.LIVE),
    }
    by_id = {i["id"]: i for i in view.to_json()["instances"]}
    assert (by_id["p-paper"]["mode"], by_id["p-paper"]["venue"]) == ("paper", "coinbase-paper")
    assert (by_id["p-live"]["mode"], by_id["p-live"]["venue"]) == ("live", "coinbase")
    console = Console(record=True, width=200)
    console.print(view.render())
    text = console.export_text()
    assert "paper (coinbase-paper)" in text
    assert "LIVE (coinbase)" in text

    gone = Position(
        strategy_id="p-gone",
        venue="coinbase",
        product_id="BTC-USD",
        quantity=Decimal(1),
        average_price=Decimal(100),
        realized_pnl=Decimal(0),
        fees=Decimal(0),
        updated_ns=1,
    )
    report = {s["id"]: s for s in build_report([gone], view, {})["strategies"]}
    assert (report["p-live"]["mode"], report["p-live"]["venue"]) == ("live", "coinbase")
    assert (report["p-paper"]["mode"], report["p-paper"]["venue"]) == ("paper", "coinbase-paper")
    assert (report["p-gone"]["mode"], report["p-gone"]["venue"]) == ("live", "coinbase")  # no spec left
