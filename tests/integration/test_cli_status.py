"""`algopioneer status --json` reads what the stack published: KV state plus live status subjects."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.cli.view import StackView, num
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import BreakerState, RiskState, StrategySpec, StrategyStatus
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
    assert body["risk"]["kill_switch"] is True  # type: ignore[index]
    assert body["risk"]["breaker"] == "half_open"  # type: ignore[index]


def test_view_renders_without_data_and_formats_decimals() -> None:
    assert StackView().to_json()["instances"] == []
    StackView().render()
    assert num(Decimal("0E-8")) == "0"
    assert num(Decimal("1.2300")) == "1.23"
    assert num(Decimal("-0.000001")) == "-0.000001"
