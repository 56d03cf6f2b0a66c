"""The order path's guards on the whole stack, as processes: a live execution trading at the
simulator (playing Coinbase) beside the paper execution, on one feed.

Each test is one of the ways around a guard that the stack used to leave open:
1. a spec's mode decides where its orders go (a paper strategy never reaches the live venue);
2. a halt fences off approvals already queued for a frozen execution;
3. an approval past its deadline is never placed, and a stale intent is refused;
4. purpose is judged from risk's ledger (a bare "exit" label opens nothing under a halt), and an
   intent must come on its own strategy's subject;
5. a risk restart keeps the exposure of approvals execution has not answered yet.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.risk.config import default_limits
from shared import codec, subjects
from shared.messages import (
    ControlAction,
    ControlCommand,
    ControlReply,
    MaCrossoverParams,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    OrderType,
    Purpose,
    RiskDecision,
    Side,
    StrategySpec,
)
from shared.risk import RiskLimits
from shared.testing import eventually
from tests.e2e.helpers import PAPER_VENUE, VENUE, Stack, halt, running_stack, stream_messages

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
SEC = 1_000_000_000
PAPER_MA, LIVE_MA, PROBE = "safe-paper", "safe-live", "safe-probe"
SIZE = Decimal("0.001")
FAST_MA = {"type": "ma_crossover", "product_id": "BTC-USD", "short_window": 1, "long_window": 2}
PORTFOLIO: list[dict[str, Any]] = [
    {"id": PAPER_MA, "params": {**FAST_MA, "interval_s": 1}},
    {"id": LIVE_MA, "mode": "live", "params": {**FAST_MA, "interval_s": 1}},
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    path = Path(tmp_path_factory.mktemp("safety"))
    async with running_stack(path, PORTFOLIO, with_live=True) as running:
        assert running.bus is not None
        kv = await running.bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
        # The test's own paper strategy: it sends intents by hand (no instance runs for it: disabled
        # specs may only reduce, so it stays enabled with a product no worker trades).
        probe = StrategySpec(
            id=PROBE,
            params=MaCrossoverParams(product_id="LTC-USD", short_window=1, long_window=2, interval_s=3600),
            order_ttl_ms=60_000,
        )
        await kv.put(PROBE, probe)
        yield running


# ---- helpers ----
def _intent(strategy_id: str = PROBE, **changes: Any) -> OrderIntent:
    now = time.time_ns()
    fields: dict[str, Any] = {
        "client_order_id": str(uuid.uuid4()),
        "strategy_id": strategy_id,
        "intent_seq": now % 1_000_000_000,
        "leg": 0,
        "venue": PAPER_VENUE,
        "product_id": "BTC-USD",
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "size": SIZE,
        "purpose": Purpose.ENTRY,
        "created_ns": now,
        "expires_ns": now + 60 * SEC,
    } | changes
    return OrderIntent(**fields)


class Watch:
    """Decisions and order events of one strategy, as they are published."""

    def __init__(self) -> None:
        self.decisions: dict[str, RiskDecision] = {}
        self.events: dict[str, list[OrderEvent]] = {}

    async def on_decision(self, msg: Any) -> None:
        decision = codec.decode(msg.data, RiskDecision)
        self.decisions[decision.client_order_id] = decision

    async def on_event(self, msg: Any) -> None:
        event = codec.decode(msg.data, OrderEvent)
        self.events.setdefault(event.client_order_id, []).append(event)

    def decided(self, coids: list[str]) -> bool:
        return all(c in self.decisions for c in coids)

    def terminal(self, coids: list[str]) -> bool:
        return all(any(e.status.is_terminal for e in self.events.get(c, [])) for c in coids)


async def _watch(stack: Stack, strategy_id: str = PROBE) -> tuple[Watch, list[Any]]:
    assert stack.bus is not None
    watch = Watch()
    subs = [
        await stack.bus.nc.subscribe(subjects.decision(strategy_id), cb=watch.on_decision),
        await stack.bus.nc.subscribe(f"orders.event.*.{strategy_id}", cb=watch.on_event),
    ]
    await stack.bus.nc.flush()
    return watch, subs


async def _send(stack: Stack, intent: OrderIntent, subject_strategy: str | None = None) -> None:
    assert stack.bus is not None
    subject = subjects.intent(subject_strategy or intent.strategy_id)
    await stack.bus.publish_durable(subject, intent, msg_id=intent.client_order_id)


@contextmanager
def _frozen(stack: Stack, name: str) -> Iterator[None]:
    """SIGSTOP a service (it neither consumes nor exits, so the launcher does not restart it)."""
    pid = stack.managed(name).process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def _resume(stack: Stack) -> None:
    assert stack.bus is not None
    command = ControlCommand(action=ControlAction.RESUME, operator="e2e", requested_ns=time.time_ns())
    reply = await stack.bus.request(subjects.RISK_CONTROL, command, ControlReply, timeout=5.0)
    assert reply.ok, reply.detail


async def _paper_fills(stack: Stack, coids: list[str]) -> dict[str, int]:
    _, records = await stack.paper()
    return {c: len(records[c].fills) for c in coids if c in records and records[c].fills}


# ---- 1. mode ----
async def test_each_spec_trades_only_on_the_venue_its_mode_names(stack: Stack) -> None:
    async def both_traded() -> list[OrderEvent] | None:
        events = await stream_messages(stack, subjects.STREAM_ORDER_EVENTS, OrderEvent)
        filled = {(e.strategy_id, e.venue) for e in events if e.status is OrderStatus.FILLED}
        return events if {(PAPER_MA, PAPER_VENUE), (LIVE_MA, VENUE)} <= filled else None

    events = await eventually(both_traded, timeout_s=60, interval_s=1.0, what="paper and live MA fills")
    venues: dict[str, set[str]] = {}
    for event in events:
        venues.setdefault(event.strategy_id, set()).add(event.venue)
    assert venues[PAPER_MA] == {PAPER_VENUE}, venues
    assert venues[LIVE_MA] == {VENUE}, venues
    _, records = await stack.paper()
    assert {r.order.strategy_id for r in records.values()} == {PAPER_MA}


# ---- 2. halt fence ----
async def test_a_halt_fences_off_approvals_queued_for_a_frozen_execution(stack: Stack) -> None:
    watch, subs = await _watch(stack)
    intents = [_intent() for _ in range(3)]
    try:
        with _frozen(stack, "execution-paper"):
            for intent in intents:
                await _send(stack, intent)
            coids = [i.client_order_id for i in intents]
            await eventually(lambda: watch.decided(coids), timeout_s=15, what="risk decided")
            assert all(watch.decisions[c].approved for c in coids), watch.decisions
            await halt(stack, "e2e: fence test")
        await eventually(lambda: watch.terminal(coids), timeout_s=20, what="execution answered")
        for coid in coids:
            final = [e for e in watch.events[coid] if e.status.is_terminal]
            assert final[0].status is OrderStatus.CANCELLED, final
            assert final[0].reason.startswith("HALTED"), final
            assert final[0].filled_size == 0
        assert not await _paper_fills(stack, coids)
    finally:
        await _resume(stack)
        for sub in subs:
            await sub.unsubscribe()


# ---- 3. deadlines ----
async def test_approvals_past_their_deadline_are_never_placed(stack: Stack) -> None:
    watch, subs = await _watch(stack)
    now = time.time_ns()
    intents = [_intent(expires_ns=now + 2 * SEC) for _ in range(2)]
    coids = [i.client_order_id for i in intents]
    try:
        with _frozen(stack, "execution-paper"):
            for intent in intents:
                await _send(stack, intent)
            await eventually(lambda: watch.decided(coids), timeout_s=15, what="risk decided")
            assert all(watch.decisions[c].approved for c in coids), watch.decisions
            await asyncio.sleep(max(0.0, (now + 4 * SEC - time.time_ns()) / SEC))  # deadline + skew
        await eventually(lambda: watch.terminal(coids), timeout_s=20, what="execution answered")
        for coid in coids:
            final = [e for e in watch.events[coid] if e.status.is_terminal]
            assert final[0].status is OrderStatus.EXPIRED, final
            assert final[0].reason.startswith("DEADLINE_PASSED"), final
        assert not await _paper_fills(stack, coids)
        stale = _intent(created_ns=time.time_ns() - 600 * SEC, expires_ns=0)
        await _send(stack, stale)
        await eventually(lambda: watch.decided([stale.client_order_id]), timeout_s=15, what="stale decided")
        assert watch.decisions[stale.client_order_id].reasons == ("STALE_INTENT",)
    finally:
        for sub in subs:
            await sub.unsubscribe()


# ---- 4. purpose and subject ----
async def test_purpose_is_judged_from_the_ledger_and_the_subject_must_match(stack: Stack) -> None:
    watch, subs = await _watch(stack)
    try:
        await halt(stack, "e2e: purpose test")
        exit_label = _intent(side=Side.SELL, purpose=Purpose.EXIT, product_id="SOL-USD")
        await _send(stack, exit_label)  # the probe holds no SOL: this "exit" would open a short
        stranger = _intent(strategy_id=PAPER_MA)
        await _send(stack, stranger, subject_strategy=PROBE)  # another strategy's intent on ours
        wanted = [exit_label.client_order_id, stranger.client_order_id]
        await eventually(lambda: watch.decided(wanted), timeout_s=15, what="decided")
        assert "KILL_SWITCH" in watch.decisions[exit_label.client_order_id].reasons
        assert not watch.decisions[stranger.client_order_id].approved
        assert "STRATEGY_MISMATCH" in watch.decisions[stranger.client_order_id].reasons
    finally:
        await _resume(stack)
        for sub in subs:
            await sub.unsubscribe()


# ---- 5. in-flight exposure across a risk restart ----
async def test_a_risk_restart_keeps_the_exposure_of_unanswered_approvals(stack: Stack) -> None:
    assert stack.bus is not None
    limits_kv = await stack.bus.kv(subjects.KV_RISK_LIMITS, RiskLimits)
    base = _limits_with(max_strategy_notional=Decimal(250))  # room for two 0.001 BTC orders, not three
    watch, subs = await _watch(stack)
    try:
        with _frozen(stack, "execution-paper"):
            await limits_kv.put("limits", base)
            await eventually(lambda: _limits_applied(stack), timeout_s=10, what="limits applied")
            first = [_intent(), _intent()]
            for intent in first:
                await _send(stack, intent)
            await eventually(lambda: watch.decided([i.client_order_id for i in first]), timeout_s=15)
            assert all(watch.decisions[i.client_order_id].approved for i in first), watch.decisions
            risk = stack.managed("risk")
            pid = risk.process.pid
            os.kill(pid, signal.SIGKILL)
            await eventually(lambda: risk.process.pid != pid, timeout_s=20, what="risk restarted")
            await eventually(lambda: stack.ready("risk"), timeout_s=40, interval_s=0.3, what="risk ready")
            third = _intent()
            await _send(stack, third)
            await eventually(lambda: watch.decided([third.client_order_id]), timeout_s=20)
            decision = watch.decisions[third.client_order_id]
            assert not decision.approved, "a restart forgot the approvals still in flight"
            assert "MAX_STRATEGY_NOTIONAL" in decision.reasons, decision
    finally:
        await limits_kv.delete("limits")
        for sub in subs:
            await sub.unsubscribe()


def _limits_with(**changes: Any) -> RiskLimits:
    """The stack's own start-up limits with some changed (KV limits replace them whole)."""
    fields = {f: getattr(default_limits(), f) for f in RiskLimits.__struct_fields__}
    return RiskLimits(**(fields | changes))


async def _limits_applied(stack: Stack) -> bool:
    return any(line.get("event") == "risk_limits_changed" for line in stack.log_lines("risk"))


async def test_afterwards_the_fenced_and_expired_orders_never_reached_any_venue(stack: Stack) -> None:
    """Every probe order that was refused by execution has no fill at either venue."""
    events = await stream_messages(stack, subjects.STREAM_ORDER_EVENTS, OrderEvent)
    refused = {
        e.client_order_id
        for e in events
        if e.strategy_id == PROBE and e.reason.startswith(("HALTED", "DEADLINE_PASSED"))
    }
    assert refused
    placed = {
        e.client_order_id for e in events if e.client_order_id in refused and e.status is OrderStatus.FILLED
    }
    assert not placed
