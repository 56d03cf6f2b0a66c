"""Circuit breaker and kill switch through the real risk service."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared import subjects
from shared.bus import DeliveryInfo
from shared.messages import BreakerState, CancelRequest, Order, OrderStatus, Purpose, RiskState, Side
from shared.risk import BreakerConfig
from shared.testing import eventually
from tests.integration.risk.conftest import RiskHarness, StartRisk

pytestmark = pytest.mark.integration
D = Decimal


async def test_breaker_opens_after_failures_and_lets_exactly_one_probe_through(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    cfg = BreakerConfig(failure_threshold=2, window_size=4, min_outcomes=4, cooldown_ms=300)
    risk = await start_risk(breaker=cfg)
    await harness.ticker("100000")
    sent = [harness.intent(), harness.intent(), harness.intent()]
    for intent in sent:
        assert (await harness.decide(intent)).approved
    await harness.event(sent[0], OrderStatus.REJECTED, "INSUFFICIENT_FUND: not enough USD")  # business
    await harness.event(sent[1], OrderStatus.UNKNOWN, "timeout")
    await harness.event(sent[2], OrderStatus.REJECTED, "UNKNOWN_FAILURE_REASON")
    await eventually(lambda: risk.book.breaker.state is BreakerState.OPEN, what="breaker open")
    assert (await harness.decide(harness.intent())).reasons == ("BREAKER_OPEN",)

    state_kv = await harness.bus.kv(subjects.KV_RISK_STATE, RiskState)

    async def half_open() -> bool:
        entry = await state_kv.get("state")
        return entry is not None and entry.value.breaker is BreakerState.HALF_OPEN

    await eventually(half_open, what="half-open after the cooldown, stored in KV")
    probe, blocked = harness.intent(), harness.intent()
    assert (await harness.decide(probe)).approved
    assert (await harness.decide(blocked)).reasons == ("BREAKER_OPEN",)
    await harness.event(probe, OrderStatus.ACCEPTED)
    await eventually(lambda: risk.book.breaker.state is BreakerState.CLOSED, what="closed by the probe")
    assert (await harness.decide(harness.intent())).approved


async def test_halt_cancels_blocks_entries_lets_reductions_and_flattens(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    risk = await start_risk()
    await harness.ticker("100000")
    cancels: list[CancelRequest] = []
    flattening: list[Order] = []

    async def on_cancel(request: CancelRequest) -> None:
        cancels.append(request)

    async def on_order(order: Order, _: DeliveryInfo) -> None:
        if order.purpose is Purpose.FLATTEN:
            flattening.append(order)

    await harness.bus.subscribe(subjects.cancel(subjects.ANY), CancelRequest, on_cancel)
    await harness.bus.consume(
        stream=subjects.STREAM_APPROVED,
        durable="test-execution",
        subject=subjects.approved("coinbase"),
        message_type=Order,
        handler=on_order,
    )
    await harness.fill(Side.BUY, "0.3", "100000")

    reply = await harness.control("halt", reason="drill", operator="ops", flatten=True)
    assert reply.ok, reply.detail
    await eventually(lambda: cancels, what="cancel-all published")
    assert cancels[0].venue == "coinbase"
    assert cancels[0].client_order_ids == ()
    assert "drill" in cancels[0].reason
    flat = (await eventually(lambda: flattening, what="flattening order approved"))[0]
    assert (flat.side, flat.size, flat.strategy_id) == (Side.SELL, D("0.3"), "s1")
    # Execution finds no liquidity for the IOC: while it was in flight, it already closed everything.
    await harness.event(flat, OrderStatus.EXPIRED)
    await eventually(lambda: not risk.book.pending.by_position(), what="flatten no longer pending")

    entry = await harness.decide(harness.intent())
    assert entry.reasons == ("KILL_SWITCH",)
    exit_ = await harness.decide(harness.intent(side=Side.SELL, size=D("0.1"), purpose=Purpose.EXIT))
    assert exit_.approved, exit_.detail
    status = json.loads((await harness.control("status")).detail)
    assert status["kill_switch"] is True
    assert "drill" in status["kill_reason"]

    assert (await harness.control("resume", operator="ops")).ok
    assert (await harness.decide(harness.intent())).approved
    assert not (await harness.control("explode")).ok


async def test_daily_loss_trips_the_kill_switch_automatically(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    risk = await start_risk(daily_loss_limit=D(50))
    cancels: list[CancelRequest] = []

    async def on_cancel(request: CancelRequest) -> None:
        cancels.append(request)

    await harness.bus.subscribe(subjects.cancel(subjects.ANY), CancelRequest, on_cancel)
    await harness.ticker("100000")
    await harness.fill(Side.BUY, "0.1", "100000", fee="5")
    await eventually(lambda: risk.book.ledger.positions(), what="fill booked")
    assert not risk.book.kill_switch
    await harness.ticker("99500")  # -50 unrealized, -5 fee: -55 today
    await eventually(lambda: risk.book.kill_switch, what="automatic kill switch")
    assert risk.book.kill_reason.startswith("DAILY_LOSS")
    await eventually(lambda: cancels, what="cancels on the automatic halt")
    decision = await harness.decide(harness.intent(limit_price=D("99500.00")))
    assert set(decision.reasons) == {"KILL_SWITCH", "DAILY_LOSS"}
    refused = await harness.control("resume")
    assert not refused.ok
    assert "daily PnL" in refused.detail
