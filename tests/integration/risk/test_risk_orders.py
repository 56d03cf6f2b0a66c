"""Intents through the real risk service: approvals, refusals with their reasons, exactly-once orders."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from services.risk.service import RiskService
from shared import subjects
from shared.bus import Bus
from shared.messages import OrderStatus, OrderType, Side
from shared.risk import RateLimit
from shared.runtime import ServiceContext
from shared.testing import eventually
from tests.integration.risk.conftest import RiskHarness, StartRisk, settings_for

pytestmark = pytest.mark.integration
D = Decimal


async def test_an_intent_sent_twice_is_approved_and_queued_exactly_once(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    await start_risk()
    await harness.ticker("100000")
    intent = harness.intent()
    await harness.send(intent)
    await harness.send(intent)  # the strategy retried: same Nats-Msg-Id, stored once
    await harness.send(intent, msg_id=None)  # even a second copy that reached the stream
    decision = (await harness.wait_decisions(intent))[0]
    assert decision.approved, decision.detail
    await eventually(lambda: harness.stream_count(subjects.STREAM_INTENTS), what="intents stored")
    assert await harness.stream_count(subjects.STREAM_INTENTS) == 2
    second = harness.intent()
    assert (await harness.decide(second)).approved  # the duplicate was consumed before this one
    assert len(harness.decisions[intent.client_order_id]) == 1
    assert await harness.stream_count(subjects.STREAM_APPROVED) == 2  # one order per intent


async def test_refusals_carry_their_reason_codes(harness: RiskHarness, start_risk: StartRisk) -> None:
    await start_risk(strategy_rate=RateLimit(per_second=D("0.001"), burst=3))
    await harness.ticker("100000")

    async def reasons(**fields: object) -> tuple[str, ...]:
        decision = await harness.decide(harness.intent(**fields))
        return decision.reasons

    assert "UNKNOWN_PRODUCT" in await reasons(product_id="DOGE-USD", strategy_id="s2")
    assert "PRICE_BAND" in await reasons(limit_price=D("90000.00"), strategy_id="s2")
    assert "OFF_GRID_SIZE" in await reasons(size=D("0.000000001"), strategy_id="s2")
    assert "MAX_POSITION_NOTIONAL" in await reasons(size=D("1"), strategy_id="s2")
    assert "INVALID_NUMBER" in await reasons(order_type=OrderType.LIMIT, limit_price=None, strategy_id="s2")
    # rate limit: three tokens, the fourth approved-looking intent is refused
    for _ in range(3):
        assert await reasons() == ()
    assert await reasons() == ("RATE_LIMIT",)


async def test_stale_mark_is_refused_and_pending_orders_count_towards_caps(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    await start_risk(max_position_notional=D(25_000), max_staleness_ms=300)
    assert "STALE_MARKET_DATA" in (await harness.decide(harness.intent())).reasons
    await harness.ticker("100000")
    first = harness.intent(size=D("0.2"))
    assert (await harness.decide(first)).approved
    second = harness.intent(size=D("0.1"))  # 0.3 BTC with the unfilled first one: over 25 000
    assert (await harness.decide(second)).reasons == ("MAX_POSITION_NOTIONAL",)
    await harness.event(first, OrderStatus.CANCELLED)
    await harness.ticker("100000")

    async def third_passes() -> bool:
        await harness.ticker("100000")
        return (await harness.decide(harness.intent(size=D("0.1"), side=Side.BUY))).approved

    await eventually(third_passes, what="cancelled order no longer pending")


async def _redelivered(bus: Bus, durable: str) -> bool:
    """Risk handled the intent and put it back (a decision would have been acked, not redelivered)."""
    info = await bus.js.consumer_info(subjects.STREAM_INTENTS, durable)
    return (info.num_redelivered or 0) >= 1


async def test_after_a_start_an_intent_waits_for_a_fresh_mark_instead_of_being_refused(
    harness: RiskHarness, risk_bus: Bus
) -> None:
    """Intents that queued while risk was down are not judged on marks from before the restart: each
    leg of a pair would pass or fail on whichever product ticked first (a naked leg)."""
    settings = msgspec.structs.replace(settings_for(risk_bus), startup_grace_s=10.0)
    service = RiskService(settings)
    await harness.product()
    await service.start(ServiceContext("risk", settings, risk_bus))
    try:
        intent = harness.intent()
        await harness.send(intent)
        await eventually(lambda: _redelivered(risk_bus, settings.durable), what="the intent put back")
        assert harness.decisions.get(intent.client_order_id, []) == []  # no mark yet: redelivered
        await harness.ticker("100000")
        decision = (await harness.wait_decisions(intent))[0]
        assert decision.approved, decision.reasons
    finally:
        await service.stop()
