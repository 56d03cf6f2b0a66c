"""PnL aggregation, its exact rebuild after a restart, and limits changed at run time through KV."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from shared import subjects
from shared.messages import OrderStatus, PnlSummary, Position, Side
from shared.testing import eventually
from tests.integration.risk.conftest import RiskHarness, StartRisk, limits

pytestmark = pytest.mark.integration
D = Decimal


async def test_pnl_is_published_stored_and_rebuilt_exactly_after_a_restart(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    first = await start_risk()
    published: list[PnlSummary] = []

    async def on_pnl(summary: PnlSummary) -> None:
        published.append(summary)

    await harness.bus.subscribe(subjects.RISK_PNL, PnlSummary, on_pnl)
    await harness.ticker("100000")
    await harness.fill(Side.BUY, "0.3", "100000.01", fee="1.2345")
    await harness.fill(Side.BUY, "0.1", "99999.37", fee="0.41", sid="s2")
    await harness.fill(Side.SELL, "0.07", "100123.45", fee="0.0007")
    await harness.fill(Side.SELL, "0.07", "100123.45", fee="0.0007", trade="t3")  # a redelivered fill
    await harness.ticker("100050.5")
    await eventually(lambda: len(first.book.ledger.snapshot().trade_ids) == 3, what="three trades booked")
    await eventually(
        lambda: published and published[-1].positions == first.book.ledger.summary(0).positions,
        what="PnL published after the last mark",
    )
    before = first.book.ledger.snapshot()
    summary_before = msgspec.structs.replace(first.book.ledger.summary(0), summary_ns=0)
    assert summary_before.fees == D("1.6452")
    assert summary_before.by_strategy.keys() == {"s1", "s2"}
    positions = await harness.bus.kv(subjects.KV_POSITIONS, Position)
    stored = await eventually(lambda: positions.get("s1.BTC-USD"), what="position in KV")
    assert stored is not None
    assert stored.value.quantity == D("0.23")

    open_order = harness.intent()
    assert (await harness.decide(open_order)).approved
    await harness.event(open_order, OrderStatus.ACCEPTED)
    await first.stop()
    second = await start_risk()
    assert second.book.ledger.snapshot() == before
    assert second.book.pending.by_position() == first.book.pending.by_position() != {}
    assert second.book.decided.keys() == first.book.decided.keys()
    assert second.book.breaker == first.book.breaker
    assert msgspec.structs.replace(second.book.ledger.summary(0), summary_ns=0) == summary_before
    assert second.book.daily.pnl == first.book.daily.pnl


async def test_limits_written_to_kv_take_effect_and_invalid_ones_are_ignored(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    risk = await start_risk()
    await harness.ticker("100000")
    assert (await harness.decide(harness.intent(size=D("0.2")))).approved
    tighter = limits(max_position_notional=D(15_000))
    await harness.put_limits(tighter)
    await eventually(lambda: risk.book.limits == tighter, what="new limits in force")
    assert (await harness.decide(harness.intent(size=D("0.2")))).reasons == ("MAX_POSITION_NOTIONAL",)

    invalid = msgspec.to_builtins(limits(max_position_notional=D(99_999)))
    invalid["max_position_notional"] = "-1"
    await harness.put_limits(invalid)
    await harness.put_limits({"not": "limits"})
    await harness.ticker("100000")
    assert (await harness.decide(harness.intent(size=D("0.2")))).reasons == ("MAX_POSITION_NOTIONAL",)
    assert risk.book.limits == tighter


async def test_a_restart_replays_past_undecodable_messages_in_its_streams(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    """A junk message stored in FILLS, ORDER_EVENTS or DECISIONS is counted and skipped during the
    replay: risk still starts (it used to wait for it until the replay timed out, then crash-loop)."""
    first = await start_risk()
    await harness.ticker("100000")
    await harness.fill(Side.BUY, "0.1", "100000", fee="0.1")
    for subject in (
        subjects.fill("coinbase", "BTC-USD"),
        subjects.order_event("coinbase", "s1"),
        subjects.decision("s1"),
    ):
        await harness.bus.js.publish(subject, b"\xc1 not msgpack")
    await harness.fill(Side.BUY, "0.2", "100000", fee="0.2", trade="t-after-junk")
    await eventually(lambda: len(first.book.ledger.snapshot().trade_ids) == 2, what="both fills booked")
    before = first.book.ledger.snapshot()
    await first.stop()
    second = await start_risk()  # raises if the replay never completes
    assert second.book.ledger.snapshot() == before
