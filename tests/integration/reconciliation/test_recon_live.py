"""Reconciliation against the simulator: each fault is detected and resolved within one cycle,
and the ledger (as risk rebuilds it from the fills stream) then equals the venue."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from services.reconciliation.model import Kind
from shared.messages import OrderStatus, Purpose, Side
from shared.testing import eventually

from .helpers import D, FakeInstance, Stack

pytestmark = pytest.mark.integration
BTC0 = D(1)


async def test_lost_fill_is_published_and_the_ledger_equals_the_venue(stack: Stack) -> None:
    await stack.start()
    intent = await stack.intent("s1", 1, 0, "BTC-USD", Side.BUY, "0.5")
    venue_id = await stack.place(intent.client_order_id, "BTC-USD", Side.BUY, "0.5")
    await stack.event(intent, OrderStatus.ACCEPTED, venue_order_id=venue_id)
    await stack.event(intent, OrderStatus.FILLED, venue_order_id=venue_id, filled="0.5")
    # Execution crashed before publishing the fill: only reconciliation can bring it.
    fault_cycle = cycle_now(stack)
    await eventually_position(stack, "s1", "BTC-USD", D("0.5"))
    assert stack.balance("BTC") - BTC0 == stack.audit.total("BTC-USD")
    (fill,) = stack.audit.fills
    assert (fill.client_order_id, fill.venue_order_id, fill.strategy_id) == (
        intent.client_order_id,
        venue_id,
        "s1",
    )
    assert fill.fee > 0
    await eventually(lambda: Kind.MISSING_FILL in stack.audit.kinds(), what="finding reported")
    assert first_cycle_with(stack, Kind.MISSING_FILL) <= fault_cycle + 1
    await quiet_cycle(stack)


async def test_order_left_unknown_is_resolved_with_its_fills(stack: Stack) -> None:
    await stack.start()
    intent = await stack.intent("s1", 1, 0, "BTC-USD", Side.BUY, "0.25")
    await stack.place(intent.client_order_id, "BTC-USD", Side.BUY, "0.25")
    # Every create attempt timed out for execution: it could only say "unknown".
    await stack.event(intent, OrderStatus.UNKNOWN)
    fault_cycle = cycle_now(stack)

    async def filled() -> bool:
        return any(
            e.client_order_id == intent.client_order_id and e.status is OrderStatus.FILLED
            for e in stack.audit.events
        )

    await eventually(filled, timeout_s=10, what="terminal event published")
    (event,) = [e for e in stack.audit.events if e.status is OrderStatus.FILLED]
    assert event.filled_size == D("0.25")
    assert event.venue_order_id
    await eventually_position(stack, "s1", "BTC-USD", D("0.25"))
    await eventually(lambda: Kind.UNKNOWN_ORDER_RESOLVED in stack.audit.kinds(), what="finding reported")
    assert first_cycle_with(stack, Kind.UNKNOWN_ORDER_RESOLVED) <= fault_cycle + 1
    assert stack.balance("BTC") - BTC0 == stack.audit.total("BTC-USD")
    await quiet_cycle(stack)


@pytest.mark.parametrize("policy", ["alert", "corrective"])
async def test_outside_trade_is_reported_adopted_and_handled_per_policy(stack: Stack, policy: str) -> None:
    await stack.start(policy={"external_trade": policy})
    await stack.place(f"manual-{uuid.uuid4().hex[:8]}", "ETH-USD", Side.BUY, "2")
    fault_cycle = cycle_now(stack)
    await eventually_position(stack, "external", "ETH-USD", D(2))
    await eventually(lambda: Kind.EXTERNAL_TRADE in stack.audit.kinds(), what="finding reported")
    assert first_cycle_with(stack, Kind.EXTERNAL_TRADE) <= fault_cycle + 1
    assert stack.balance("ETH") - D(10) == stack.audit.total("ETH-USD")
    correctives = [i for i in stack.audit.intents if i.purpose is Purpose.CORRECTIVE]
    if policy == "alert":
        await quiet_cycle(stack)
        assert correctives == []
        return
    (intent,) = await eventually(
        lambda: [i for i in stack.audit.intents if i.purpose is Purpose.CORRECTIVE], what="corrective intent"
    )
    assert (intent.strategy_id, intent.product_id, intent.side, intent.size) == (
        "external",
        "ETH-USD",
        Side.SELL,
        D(2),
    )
    # Risk approves and execution places it; reconciliation books its fill, the book goes flat.
    await stack.place(intent.client_order_id, "ETH-USD", Side.SELL, "2")
    await eventually_position(stack, "external", "ETH-USD", D(0))
    assert stack.balance("ETH") == D(10)
    await quiet_cycle(stack)
    assert len([i for i in stack.audit.intents if i.purpose is Purpose.CORRECTIVE]) == 1


async def test_crash_between_the_legs_of_a_pair_is_resolved_and_unwound(stack: Stack) -> None:
    await stack.start()
    sid = f"pair-{uuid.uuid4().hex[:6]}"
    leg1 = await stack.intent(sid, 1, 1, "BTC-USD", Side.BUY, "0.5")
    await stack.intent(sid, 1, 2, "ETH-USD", Side.SELL, "5")
    venue_id = await stack.place(leg1.client_order_id, "BTC-USD", Side.BUY, "0.5")
    await stack.event(leg1, OrderStatus.ACCEPTED, venue_order_id=venue_id)
    # Execution died here: leg 1's fill and terminal event were never published, leg 2 never sent.
    # The instance timed out waiting and sits in Reconciling.
    instance = await FakeInstance(stack.bus, sid, ("BTC-USD", "ETH-USD")).start()
    await eventually(lambda: instance.commands, timeout_s=10, what="resolve sent")
    assert instance.commands[0].positions == (D("0.5"), D(0))
    (unwind,) = await eventually(
        lambda: [i for i in stack.audit.intents if i.strategy_id == sid and i.purpose is Purpose.CORRECTIVE],
        what="unwind intent for the unhedged leg",
    )
    assert (unwind.product_id, unwind.side, unwind.size) == ("BTC-USD", Side.SELL, D("0.5"))
    assert stack.audit.position(sid, "BTC-USD") == D("0.5")
    wanted = {Kind.MISSING_FILL, Kind.INSTANCE_RECONCILING, Kind.UNHEDGED}
    await eventually(lambda: wanted <= stack.audit.kinds(), what="findings reported")
    # Resolved, found unhedged and unwound in one and the same cycle (the bound is 0 here).
    assert first_cycle_with(stack, Kind.UNHEDGED) == first_cycle_with(stack, Kind.INSTANCE_RECONCILING)
    # Risk approves the unwind and execution fills it; reconciliation books it and resolves again.
    await stack.place(unwind.client_order_id, "BTC-USD", Side.SELL, "0.5")
    await eventually(lambda: instance.state == "flat", timeout_s=10, what="instance resolved flat")
    assert stack.audit.position(sid, "BTC-USD") == D(0)
    assert stack.balance("BTC") == BTC0
    assert any(
        e.client_order_id == leg1.client_order_id and e.status is OrderStatus.FILLED
        for e in stack.audit.events
    )


def cycle_now(stack: Stack) -> int:
    """The number of the cycle running (or last run) now: the next one starts after the fault."""
    assert stack.service is not None
    return stack.service.cycles


def first_cycle_with(stack: Stack, kind: Kind) -> int:
    assert stack.service is not None
    return min(r.cycle for r in stack.service.reports if any(f.kind == kind for f in r.findings))


async def eventually_position(stack: Stack, sid: str, product: str, expected: Decimal) -> None:
    await eventually(
        lambda: stack.audit.position(sid, product) == expected,
        timeout_s=10,
        what=f"{sid} {product} = {expected}",
    )


async def quiet_cycle(stack: Stack) -> None:
    """After the repair, a whole cycle runs and finds nothing more to do."""
    assert stack.service is not None
    start = len(stack.service.reports)
    report = await eventually(
        lambda: stack.service.reports[start + 1] if len(stack.service.reports) > start + 1 else None,
        timeout_s=10,
        what="a later cycle",
    )
    assert report.findings == (), report.findings


async def test_a_restarted_reconciliation_knows_a_reconciling_instance_at_its_first_cycle(
    stack: Stack,
) -> None:
    """Statuses are kept per instance on a last-value stream: an instance that went to Reconciling
    while reconciliation was down is resolved at the first cycle, not after its next status."""
    sid = f"pair-{uuid.uuid4().hex[:6]}"
    instance = await FakeInstance(stack.bus, sid, ("BTC-USD", "ETH-USD")).start()
    service = await stack.start(interval_s=60.0)  # only the first cycle runs within this test
    first = service.reports[0]
    assert first.cycle == 1
    assert any(f.kind == Kind.INSTANCE_RECONCILING and f.strategy_id == sid for f in first.findings)
    await eventually(lambda: instance.commands, timeout_s=10, what="resolve sent at the first cycle")
