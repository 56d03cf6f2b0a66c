"""The notification service against a real nats-server, as its own read-only user, posting through
Apprise to a local webhook: a fill, a halt and a reconciliation finding each arrive, a burst of fills
arrives as one message and a digest, a service not ready is told; and the user can read, never trade."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import nats.errors
import pytest

from services.notify.config import KindSettings, NotifySettings
from services.notify.service import NotifyService
from shared import subjects
from shared.messages import (
    ControlAction,
    ControlCommand,
    ControlReply,
    Fill,
    Liquidity,
    OrderIntent,
    OrderType,
    ReconFinding,
    ReconReport,
    RiskState,
    ServiceHeartbeat,
    Side,
)
from shared.runtime import ServiceContext
from shared.testing import eventually

from .helpers import Recorded, Webhook, login

pytestmark = pytest.mark.integration

VENUE = "coinbase-paper"
DENIED = (nats.errors.TimeoutError, TimeoutError, nats.errors.NoRespondersError)


def fill(n: int) -> Fill:
    return Fill(
        trade_id=f"t{n}",
        client_order_id=f"c{n}",
        strategy_id="ma-btc",
        venue=VENUE,
        product_id="BTC-USD",
        side=Side.SELL,
        price=Decimal("100000.00"),
        size=Decimal("0.001"),
        fee=Decimal("0.90"),
        liquidity=Liquidity.MAKER,
        fill_ns=time.time_ns(),
    )


@pytest.fixture
async def notify(secured: str, admin: Recorded, webhook: Webhook) -> AsyncIterator[Recorded]:
    settings = NotifySettings(
        nats=login(secured, "notify"),
        urls=(webhook.url,),
        fills=KindSettings(min_interval_s=3.0),
        not_ready_after_s=1.0,
        readiness_check_s=0.25,
    )
    client = await Recorded.connect(secured, "notify")
    service = NotifyService(settings)
    await service.start(ServiceContext("notify", settings, client.bus))
    yield client
    await service.stop()
    await client.bus.close()


async def test_fills_halts_findings_and_readiness_reach_the_webhook(
    admin: Recorded, notify: Recorded, webhook: Webhook
) -> None:
    bus = admin.bus
    await bus.publish_durable(subjects.fill(VENUE, "BTC-USD"), fill(0), msg_id=fill(0).dedupe_key)
    (first,) = await eventually(lambda: webhook.titled("Fill BTC-USD"), what="the fill's message")
    assert first["title"] == "algopioneer: Fill BTC-USD"
    assert first["message"] == "SELL 0.001 BTC-USD @ 100000.00 (fee 0.90, maker) for ma-btc on coinbase-paper"

    halt = RiskState(kill_switch=True, kill_reason="operator: test", epoch=1, updated_ns=time.time_ns())
    await bus.publish(subjects.RISK_STATE, halt)
    (halted,) = await eventually(lambda: webhook.titled("Trading halted"), what="the halt")
    assert "operator: test" in halted["message"]
    assert halted["type"] == "failure"

    finding = ReconFinding(
        kind="position_difference", product_id="BTC-USD", strategy_id="ma-btc", detail="off"
    )
    report = ReconReport(
        venue=VENUE, cycle=1, compared={"orders": 1}, findings=(finding,), report_ns=time.time_ns()
    )
    await bus.publish_durable(subjects.recon_report(VENUE), report)
    (recon,) = await eventually(lambda: webhook.titled("Reconciliation"), what="the finding")
    assert "position_difference BTC-USD ma-btc: off" in recon["message"]

    # a burst: 300 fills become at most a few messages, and the digest accounts for every one
    for n in range(1, 301):
        await bus.publish_durable(subjects.fill(VENUE, "BTC-USD"), fill(n), msg_id=fill(n).dedupe_key)
    await eventually(
        lambda: webhook.fills_told()[1] == 301, timeout_s=15, what=f"a digest ({webhook.fills_told()})"
    )
    posts, _ = webhook.fills_told()
    assert posts <= 4, webhook.titled("Fill ")
    assert any(p["message"].startswith("… and ") for p in webhook.titled("Fill "))

    # a service heartbeating "not ready" for longer than not_ready_after_s
    beats = await bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
    now = time.time_ns()
    beat = ServiceHeartbeat(
        service="marketdata",
        instance="h-1",
        ready=False,
        checks={"nats": True, "feed": False},
        started_ns=now,
        updated_ns=now,
    )
    await beats.put("marketdata.h-1", beat)
    (down,) = await eventually(lambda: webhook.titled("marketdata not ready"), timeout_s=10, what="not ready")
    assert "(h-1: feed)" in down["message"]
    assert notify.violations == []  # the read-only user was enough for all of it


async def test_the_notify_user_reads_but_never_trades(secured: str, admin: Recorded) -> None:
    client = await Recorded.connect(secured, "notify")
    bus = client.bus
    intent = OrderIntent(
        client_order_id="n-1",
        strategy_id="s1",
        intent_seq=1,
        leg=1,
        venue=VENUE,
        product_id="BTC-USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        size=Decimal("0.001"),
        created_ns=time.time_ns(),
    )
    with pytest.raises(DENIED):
        await bus.publish_durable(subjects.intent("s1"), intent, msg_id="n-1", timeout=0.5)
    with pytest.raises(DENIED):
        await bus.publish_durable(subjects.fill(VENUE, "BTC-USD"), fill(1), msg_id="x", timeout=0.5)
    halt = ControlCommand(action=ControlAction.HALT, reason="not yours", requested_ns=time.time_ns())
    with pytest.raises(DENIED):
        await bus.request(subjects.RISK_CONTROL, halt, ControlReply, timeout=0.5)
    await bus.publish(subjects.RISK_STATE, RiskState(updated_ns=time.time_ns()))
    risk_state = await bus.nc.jetstream(timeout=0.5).key_value(subjects.KV_RISK_STATE)
    with pytest.raises(DENIED):
        await risk_state.put("state", b"forged")
    await bus.nc.flush()
    await eventually(lambda: len(client.violations) >= 5, what=f"every attempt refused ({client.errors})")
    for subject in (subjects.intent("s1"), subjects.RISK_CONTROL, subjects.RISK_STATE):
        assert any(f'publish to "{subject}"' in v for v in client.violations), (subject, client.violations)
    assert (await admin.bus.js.stream_info(subjects.STREAM_INTENTS)).state.messages == 0
    await bus.close()
