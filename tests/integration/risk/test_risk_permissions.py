"""The shipped NATS permissions (shared/nats/permissions.conf) on a real nats-server: only risk may
approve, only execution may consume approved orders, and every service can still do its job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import nats.errors
import pytest
from nats.js import api

from services.risk.config import RiskSettings
from services.risk.service import RiskService
from shared import streams, subjects
from shared.bus import Bus, DeliveryInfo
from shared.config import NatsSettings
from shared.messages import Order, OrderType, Side
from shared.natsserver import NatsServer
from shared.runtime import ServiceContext
from shared.testing import eventually
from tests.integration.risk.conftest import BTC_INFO, RiskHarness, limits

pytestmark = pytest.mark.integration
AsUser = Callable[[str], Awaitable[Bus]]
CONFIG = Path(__file__).resolve().parents[3] / "shared" / "nats" / "permissions.conf"


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats", config_file=str(CONFIG))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def as_user(secured_nats: NatsServer) -> AsyncIterator[AsUser]:
    """Connect as one of the configured users (password `<user>-local`); admin provisions first."""
    opened: list[Bus] = []

    async def connect(user: str) -> Bus:
        settings = NatsSettings(url=secured_nats.url, user=user, password=f"{user}-local")
        bus = await Bus.connect(settings, service=user)
        opened.append(bus)
        return bus

    admin = await connect("admin")
    await streams.provision(admin.js)
    yield connect
    for bus in reversed(opened):
        await bus.close()


def order(coid: str = "c-1") -> Order:
    return Order(
        client_order_id=coid,
        strategy_id="s1",
        intent_seq=1,
        leg=0,
        venue="coinbase",
        product_id="BTC-USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        size=Decimal("0.1"),
        approved_ns=time.time_ns(),
    )


async def approved_count(bus: Bus) -> int:
    return int((await bus.js.stream_info(subjects.STREAM_APPROVED)).state.messages)


async def test_only_risk_may_approve_and_only_execution_may_consume(as_user: AsUser) -> None:
    admin, strategy, risk, execution = [await as_user(u) for u in ("admin", "strategy", "risk", "execution")]
    approved = subjects.approved("coinbase")

    with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
        await strategy.publish_durable(approved, order(), msg_id="c-1", timeout=0.5)
    await strategy.publish(approved, order("c-core"))  # a plain publish is dropped as well
    with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
        await admin.publish_durable(approved, order("c-admin"), msg_id="c-admin", timeout=0.5)
    # the way round the subject permission: a stream that republishes into orders.approved
    intents = (await strategy.js.stream_info(subjects.STREAM_INTENTS)).config
    intents.republish = api.RePublish(src=subjects.intent("evil"), dest=approved)
    with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
        await asyncio.wait_for(strategy.js.update_stream(intents), timeout=0.5)
    assert await approved_count(admin) == 0

    ack = await risk.publish_durable(approved, order(), msg_id="c-1")
    assert not ack.duplicate
    assert await approved_count(admin) == 1

    thief = strategy.js.pull_subscribe(approved, durable="thief", stream=subjects.STREAM_APPROVED)
    with pytest.raises((nats.errors.TimeoutError, TimeoutError, nats.errors.Error)):
        await asyncio.wait_for(thief, timeout=0.5)

    got: list[Order] = []

    async def on_order(o: Order, _: DeliveryInfo) -> None:
        got.append(o)

    await execution.consume(
        stream=subjects.STREAM_APPROVED,
        durable="execution-coinbase",
        subject=approved,
        message_type=Order,
        handler=on_order,
    )
    await eventually(lambda: got, what="execution consumed the approved order")
    assert got[0].client_order_id == "c-1"


async def test_every_service_does_its_job_under_its_own_user(as_user: AsUser) -> None:
    risk_bus, strategy, execution, cli = [await as_user(u) for u in ("risk", "strategy", "execution", "cli")]
    await RiskHarness(execution).product(BTC_INFO)  # execution writes the product catalogue
    await RiskHarness(cli).put_spec("s1")  # the CLI writes strategy specs; risk reads them
    service = RiskService(
        RiskSettings(
            limits=msgspec.to_builtins(limits()),
            tick_interval_s=0.05,
            limits_refresh_s=0.05,
            replay_timeout_s=10.0,
        )
    )
    await service.start(ServiceContext("risk", service.settings, risk_bus))
    try:
        feed = RiskHarness(await as_user("marketdata"))
        await feed.ticker("100000")
        as_strategy = RiskHarness(strategy)
        await as_strategy.listen()
        await eventually(lambda: service.book.ledger.marks(), what="mark from the feed")
        decision = await as_strategy.decide(as_strategy.intent())
        assert decision.approved, decision.detail
        assert await approved_count(risk_bus) == 1
        reply = await RiskHarness(cli).control("halt", reason="permissions drill", operator="cli")
        assert reply.ok
        assert (await RiskHarness(cli).control("resume")).ok
    finally:
        await service.stop()
