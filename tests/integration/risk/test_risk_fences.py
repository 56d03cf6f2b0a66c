"""The fences risk puts round every order, through the real service on a real nats-server: the
spec decides who may send what where, a halt starts a new epoch that approvals and cancels carry,
approvals carry a deadline, and approvals still in flight count towards the caps after a restart."""

from __future__ import annotations

import time
from decimal import Decimal

import msgspec
import pytest

from services.risk.service import RiskService
from shared import subjects
from shared.bus import Bus
from shared.messages import CancelRequest, Mode, OrderStatus, Purpose, RiskDecision, RiskState, Side
from shared.runtime import ServiceContext
from shared.testing import eventually
from tests.integration.risk.conftest import BTC_INFO, RiskHarness, StartRisk, limits, settings_for

pytestmark = pytest.mark.integration
D = Decimal
PAPER = "coinbase-paper"
SEC = 1_000_000_000


async def test_a_paper_instance_trades_on_the_paper_venue_only(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    await harness.product(msgspec.structs.replace(BTC_INFO, venue=PAPER))
    await harness.put_spec("p1", Mode.PAPER)
    await start_risk()
    await harness.ticker("100000")  # the market's tick marks the paper venue too
    wrong = await harness.decide(harness.intent(strategy_id="p1"))
    assert "WRONG_VENUE" in wrong.reasons
    paper = await harness.decide(harness.intent(strategy_id="p1", venue=PAPER))
    assert paper.approved, paper.detail
    assert paper.order is not None
    assert paper.order.venue == PAPER
    approved = await harness.bus.js.get_last_msg(subjects.STREAM_APPROVED, subjects.approved(PAPER))
    assert approved.data  # published on the paper venue's subject


async def test_without_an_enabled_spec_an_instance_may_only_reduce(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    await start_risk()
    await harness.ticker("100000")
    await harness.fill(Side.BUY, "0.3", "100000", sid="ghost")
    entry = await harness.decide(harness.intent(strategy_id="ghost"))
    assert entry.reasons == ("UNKNOWN_STRATEGY",)
    exit_ = await harness.decide(harness.intent(strategy_id="ghost", side=Side.SELL, purpose=Purpose.EXIT))
    assert exit_.approved, exit_.detail

    await harness.put_spec("stopped", enabled=False)
    refused = await harness.decide(harness.intent(strategy_id="stopped"))
    assert refused.reasons == ("UNKNOWN_STRATEGY",)

    await harness.put_spec("fresh")  # written just before its first intent: read, not refused
    first = await harness.decide(harness.intent(strategy_id="fresh"))
    assert first.approved, first.detail

    await harness.delete_spec("s2")

    async def s2_refused() -> bool:
        await harness.ticker("100000")
        return "UNKNOWN_STRATEGY" in (await harness.decide(harness.intent(strategy_id="s2"))).reasons

    await eventually(s2_refused, what="a deleted instance may no longer open positions")


async def test_an_intent_sent_for_another_strategy_is_refused_to_its_sender(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    await start_risk()
    await harness.ticker("100000")
    to_sender: list[RiskDecision] = []

    async def on_decision(decision: RiskDecision) -> None:
        to_sender.append(decision)

    await harness.bus.subscribe(subjects.decision("s2"), RiskDecision, on_decision)
    forged = harness.intent(strategy_id="s1")
    await harness.send(forged, sender="s2")
    refused = (await eventually(lambda: to_sender, what="the sender hears of it"))[0]
    assert refused.client_order_id == forged.client_order_id
    assert refused.strategy_id == "s2"
    assert "STRATEGY_MISMATCH" in refused.reasons
    assert not refused.approved
    assert await harness.stream_count(subjects.STREAM_APPROVED) == 0
    # s1's own intent with that id is not shadowed by the forged one (a second stream message)
    await harness.send(forged, msg_id=None)
    own = await eventually(
        lambda: [d for d in harness.decisions.get(forged.client_order_id, []) if d.strategy_id == "s1"],
        what="s1's own decision",
    )
    assert own[0].approved, own[0].detail


async def test_a_halt_starts_a_new_epoch_that_state_cancels_and_later_approvals_carry(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    risk = await start_risk()
    await harness.ticker("100000")
    state_kv = await harness.bus.kv(subjects.KV_RISK_STATE, RiskState)
    cancels: list[tuple[CancelRequest, int]] = []

    async def on_cancel(request: CancelRequest) -> None:
        stored = await state_kv.get("state")  # what execution would read when the cancel arrives
        cancels.append((request, -1 if stored is None else stored.value.epoch))

    await harness.bus.subscribe(subjects.cancel(subjects.ANY), CancelRequest, on_cancel)
    asked = time.time_ns() + 3 * SEC
    before = await harness.decide(harness.intent(expires_ns=asked))
    assert before.order is not None
    assert (before.order.epoch, before.order.expires_ns) == (0, asked)
    unasked = harness.intent()
    ceiling = unasked.created_ns + limits().max_intent_age_ms * 1_000_000
    default_deadline = await harness.decide(unasked)
    assert default_deadline.order is not None
    assert default_deadline.order.expires_ns == ceiling

    assert (await harness.control("halt", reason="drill")).ok
    await eventually(lambda: len(cancels) == 2, what="a cancel-all on each served venue")
    assert sorted((c.venue, c.epoch, stored) for c, stored in cancels) == [
        ("coinbase", 1, 1),
        (PAPER, 1, 1),
    ]
    assert risk.book.epoch == 1
    assert (await harness.control("resume")).ok
    after = await harness.decide(harness.intent())
    assert after.order is not None
    assert after.order.epoch == 1

    await risk.stop()
    restarted = await start_risk()
    assert restarted.book.epoch == 1
    await restarted.stop()
    # A state stored before the halt (lost or older) cannot lower it: the approvals replayed say 1.
    await state_kv.put("state", RiskState(updated_ns=time.time_ns()))
    again = await start_risk()
    assert again.book.epoch == 1
    assert (await harness.control("halt", reason="again")).ok
    await eventually(lambda: len(cancels) == 4, what="the second halt's cancels")
    assert {c.epoch for c, _ in cancels[2:]} == {2}
    stored = await state_kv.get("state")
    assert stored is not None
    assert stored.value.epoch == 2


async def test_approvals_in_flight_count_towards_the_caps_after_a_restart(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    """No execution runs: three approvals of 0.1 BTC are in flight, one is then cancelled. After a
    restart the two still in flight count, so a cap of 0.35 BTC leaves room for one more, not two."""
    cap = {"max_position_notional": D(35_000)}
    first = await start_risk(**cap)
    await harness.ticker("100000")
    sent = [harness.intent() for _ in range(3)]
    for intent in sent:
        decision = await harness.decide(intent)
        assert decision.approved, decision.detail
    await harness.event(sent[2], OrderStatus.CANCELLED)
    await eventually(lambda: len(first.book.pending) == 2, what="the cancelled one left")
    await first.stop()

    second = await start_risk(**cap)
    assert len(second.book.pending) == 2
    await harness.ticker("100000")
    assert (await harness.decide(harness.intent())).approved
    refused = await harness.decide(harness.intent())
    assert refused.reasons == ("MAX_POSITION_NOTIONAL",)


async def test_an_approval_never_answered_stops_counting_once_past_its_deadline(
    harness: RiskHarness, risk_bus: Bus
) -> None:
    overrides = {"max_position_notional": D(25_000), "clock_skew_ms": 100}
    settings = msgspec.structs.replace(settings_for(risk_bus, **overrides), unanswered_grace_s=0.2)
    first = RiskService(settings)
    await first.start(ServiceContext("risk", settings, risk_bus))
    await harness.ticker("100000")
    lasting = await harness.decide(harness.intent())
    short = await harness.decide(harness.intent(expires_ns=time.time_ns() + SEC))
    assert lasting.approved
    assert short.approved
    await first.stop()

    second = RiskService(settings)
    await second.start(ServiceContext("risk", settings, risk_bus))
    try:
        await harness.ticker("100000")
        assert (await harness.decide(harness.intent())).reasons == ("MAX_POSITION_NOTIONAL",)
        await eventually(lambda: len(second.book.pending) == 1, timeout_s=5, what="released")
        await harness.ticker("100000")
        assert (await harness.decide(harness.intent())).approved
    finally:
        await second.stop()


async def test_after_a_start_an_intent_past_its_deadline_is_refused_not_held_back(
    harness: RiskHarness, risk_bus: Bus
) -> None:
    settings = msgspec.structs.replace(settings_for(risk_bus), startup_grace_s=30.0)
    service = RiskService(settings)
    await service.start(ServiceContext("risk", settings, risk_bus))
    try:
        late = harness.intent(created_ns=time.time_ns() - 20 * SEC)  # queued while risk was down
        decision = await harness.decide(late)  # no mark at all: it would otherwise wait 30 s
        assert "STALE_INTENT" in decision.reasons
    finally:
        await service.stop()
