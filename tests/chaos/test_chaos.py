"""Chaos on the whole paper stack: kill -9 each service in turn mid-scenario (execution between the
two legs of a dual-leg entry included) and let the launcher restart it; restart NATS; drop the
simulator's WebSocket and burst REST 5xx; freeze execution past the orders' deadlines and halt while
it is frozen. Afterwards: no order executed twice at the (paper) venue, no naked leg past the
configured bound, the ledger equals the paper account, no order filled after a halt that fenced it
off or past its deadline. The numbers are printed as the "chaos report" at the end of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from shared import codec, subjects
from shared.messages import (
    CandleReply,
    CandleRequest,
    ControlAction,
    ControlCommand,
    ControlReply,
    Order,
    OrderEvent,
    OrderStatus,
    Purpose,
    RiskState,
)
from shared.messages.orders import client_order_id
from shared.tasks import cancel_and_wait
from shared.testing import eventually
from tests.e2e.helpers import (
    DUAL_LEGS,
    PAPER_VENUE,
    PORTFOLIO,
    VENUE,
    Stack,
    halt,
    naked_legs,
    order_anomalies,
    running_stack,
    settled_and_equal,
    stream_messages,
)

pytestmark = [pytest.mark.chaos, pytest.mark.asyncio(loop_scope="module")]
MAX_UNHEDGED_S = 5.0  # DualLegParams.max_unhedged_ms default
NAKED_GRACE_S = 3.0  # KV positions lag (risk tick 0.25 s) plus sampling
ORDER_TTL_S = 5.0  # StrategySpec.order_ttl_ms default
CLOCK_SKEW_S = 1.0  # execution's clock_skew_ms default: one host here, so any late fill is a defect
HALTS: list[tuple[int, int]] = []
"""(halt time ns, epoch it started) of every halt the suite made."""
# Dual-leg instances re-enter every few seconds, so kills land mid-trade.
CHAOS_PORTFOLIO: list[dict[str, Any]] = [
    {**spec, "params": {**spec["params"], "entry_cooldown_ms": 2_000}}
    if spec["params"]["type"] != "ma_crossover"
    else spec
    for spec in PORTFOLIO
]


class NakedWatch:
    """Samples risk's positions through the whole module: the longest time each dual-leg instance
    held one leg without the other (a sample every 0.25 s, so ±0.25 s)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.since: dict[str, float] = {}
        self.longest: dict[str, float] = {}
        self.detail: dict[str, str] = {}

    async def run(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # NATS may be down for a moment: skip the sample
                naked = {line.split(":", 1)[0]: line for line in naked_legs(await self.stack.positions())}
                now = time.monotonic()
                for sid in list(self.since):
                    if sid not in naked:
                        del self.since[sid]
                for sid, line in naked.items():
                    start = self.since.setdefault(sid, now)
                    if now - start >= self.longest.get(sid, 0.0):
                        self.longest[sid], self.detail[sid] = now - start, line
            await asyncio.sleep(0.25)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(Path(tmp_path_factory.mktemp("chaos")), CHAOS_PORTFOLIO) as running:
        await eventually(lambda: _orders(running), timeout_s=30, interval_s=0.3, what="trading")
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def naked_watch(stack: Stack) -> AsyncIterator[NakedWatch]:
    watch = NakedWatch(stack)
    task = asyncio.create_task(watch.run())
    yield watch
    await cancel_and_wait([task])


async def _orders(stack: Stack) -> int:
    _, records = await stack.paper()
    return len(records)


async def _trading_again(stack: Stack, before: int, what: str) -> None:
    await stack.wait_all_ready(30, f"after {what}")
    await eventually(lambda: _more(stack, before), timeout_s=30, interval_s=0.3, what=f"orders after {what}")


async def _more(stack: Stack, before: int) -> bool:
    return await _orders(stack) > before


async def _kill(stack: Stack, name: str) -> None:
    managed = stack.managed(name)
    pid = managed.process.pid
    os.kill(pid, signal.SIGKILL)
    await eventually(
        lambda: managed.process.pid != pid, timeout_s=20, interval_s=0.1, what=f"{name} restarted"
    )


async def test_execution_killed_between_the_legs_of_a_dual_leg_entry(
    stack: Stack, naked_watch: NakedWatch
) -> None:
    assert stack.bus is not None
    killed = asyncio.Event()
    pid = stack.managed("execution-paper").process.pid

    async def on_approved(msg: Any) -> None:
        order = codec.decode(msg.data, Order)
        if order.strategy_id in DUAL_LEGS and order.leg == 1 and not killed.is_set():
            os.kill(pid, signal.SIGKILL)  # leg 2 is approved a moment later, execution is gone
            killed.set()

    sub = await stack.bus.nc.subscribe(subjects.approved(PAPER_VENUE), cb=on_approved)
    try:
        await asyncio.wait_for(killed.wait(), 30)
    finally:
        await sub.unsubscribe()
    before = await _orders(stack)
    managed = stack.managed("execution-paper")
    await eventually(lambda: managed.process.pid != pid, timeout_s=20, what="execution restarted")
    await _trading_again(stack, before, "execution kill")
    # The entry completes (or unwinds) once execution is back: no leg stays naked past the bound.
    await _no_naked_leg(stack, MAX_UNHEDGED_S + 15)


@pytest.mark.parametrize("name", ["risk", "strategy", "reconciliation", "marketdata"])
async def test_each_service_killed_is_restarted(stack: Stack, name: str) -> None:
    await _kill(stack, name)
    await stack.wait_all_ready(30, f"after {name} kill")


async def test_trading_resumes_after_the_kills(stack: Stack) -> None:
    await _trading_again(stack, await _orders(stack), "the kills")


async def test_nats_restart(stack: Stack) -> None:
    assert stack.launcher is not None
    nats = stack.launcher.nats
    nats.port = int(nats.url.rsplit(":", 1)[1])  # come back on the port every service knows
    before = await _orders(stack)
    await asyncio.to_thread(nats.kill)
    await asyncio.to_thread(nats.start)
    await _trading_again(stack, before, "NATS restart")


async def test_simulator_ws_drop_and_rest_5xx_burst(stack: Stack) -> None:
    assert stack.bus is not None
    reconnects = await stack.metric("marketdata", "md_reconnects_total")
    await stack.sim_control("ws_close", {"code": 1011})
    await eventually(
        lambda: _metric_above(stack, "marketdata", "md_reconnects_total", reconnects),
        timeout_s=20,
        interval_s=0.3,
        what="marketdata reconnected",
    )
    before = await _orders(stack)
    await stack.sim_control("rest_fault", {"status": 503, "body": "json", "count": 5})
    now = int(time.time())
    request = CandleRequest(venue=VENUE, product_id="BTC-USD", start=now - 3600, end=now)
    for _ in range(3):  # candle history is the paper stack's REST traffic; it must fail soft
        try:
            await stack.bus.request(subjects.candles_rpc(VENUE), request, CandleReply, timeout=5)
        except Exception:
            continue
    await _trading_again(stack, before, "WS drop and REST 5xx")


async def test_execution_frozen_past_the_deadlines(stack: Stack) -> None:
    """SIGSTOP execution while the instances trade, past every queued order's deadline, then let it
    go: what queued meanwhile is refused as expired, never filled."""
    pid = stack.managed("execution-paper").process.pid
    before = await _orders(stack)
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(ORDER_TTL_S + CLOCK_SKEW_S + 1.5)
    finally:
        os.kill(pid, signal.SIGCONT)
    await _trading_again(stack, before, "the freeze")


async def test_execution_frozen_and_halted_meanwhile(stack: Stack) -> None:
    """SIGSTOP execution, halt while it is frozen, let it go, resume: what queued before the halt is
    fenced off (cancelled, never placed)."""
    pid = stack.managed("execution-paper").process.pid
    before = await _orders(stack)
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(2.0)
        await _halt_recorded(stack, "chaos: halt while execution is frozen")
        await asyncio.sleep(0.5)
    finally:
        os.kill(pid, signal.SIGCONT)
    await _resume(stack)
    await _trading_again(stack, before, "the freeze and halt")


async def _halt_recorded(stack: Stack, reason: str) -> None:
    assert stack.bus is not None
    at = time.time_ns()
    await halt(stack, reason)
    kv = await stack.bus.kv(subjects.KV_RISK_STATE, RiskState)
    state = await kv.get("state")
    assert state is not None
    HALTS.append((at, state.value.epoch))


async def _resume(stack: Stack) -> None:
    assert stack.bus is not None
    command = ControlCommand(action=ControlAction.RESUME, operator="chaos", requested_ns=time.time_ns())
    reply = await stack.bus.request(subjects.RISK_CONTROL, command, ControlReply, timeout=5.0)
    assert reply.ok, reply.detail


async def _metric_above(stack: Stack, service: str, metric: str, value: float) -> bool:
    return await stack.metric(service, metric) > value


async def test_afterwards_no_duplicates_no_naked_leg_and_ledger_equals_account(
    stack: Stack, naked_watch: NakedWatch, chaos_report: dict[str, Any]
) -> None:
    # No halt here (a halt between the legs has its own test below): the instances keep trading and
    # the check waits for a quiet moment.
    records = await settled_and_equal(stack, timeout_s=40)
    assert not order_anomalies(records)
    events = await stream_messages(stack, subjects.STREAM_ORDER_EVENTS, OrderEvent)
    venue_ids: dict[str, set[str]] = {}
    for event in events:
        if event.venue_order_id:
            venue_ids.setdefault(event.client_order_id, set()).add(event.venue_order_id)
    twice = {coid: ids for coid, ids in venue_ids.items() if len(ids) > 1}
    after_halt, past_deadline = _fenced_but_filled(records), _filled_late(records)
    refused = {
        e.client_order_id: e.reason.split(":", 1)[0]
        for e in events
        if e.reason.startswith(("HALTED", "DEADLINE_PASSED"))
    }
    chaos_report.update(
        {
            "orders at the paper venue": len(records),
            "duplicate orders": len(twice) + len(order_anomalies(records)),
            "fills lost (ledger vs account mismatches)": 0,  # settled_and_equal above held
            "worst naked-leg time (s, sampled every 0.25 s)": round(
                max(naked_watch.longest.values(), default=0.0), 2
            ),
            "worst naked-leg time reconciliation measured since its last restart (s)": await stack.metric(
                "reconciliation", "recon_naked_leg_max_seconds"
            ),
            "orders refused by execution as fenced by a halt": sum(
                1 for r in refused.values() if r == "HALTED"
            ),
            "orders refused by execution past their deadline": sum(
                1 for r in refused.values() if r == "DEADLINE_PASSED"
            ),
            "orders filled after a halt that fenced them": len(after_halt),
            "orders filled past their deadline": len(past_deadline),
        }
    )
    assert not twice, f"orders placed twice at the venue: {twice}"
    assert not after_halt, f"filled after the halt that fenced them off: {after_halt}"
    assert not past_deadline, f"filled past their placement deadline: {past_deadline}"
    assert any(e.status is OrderStatus.FILLED for e in events)
    await _no_naked_leg(stack, MAX_UNHEDGED_S + 10)
    too_long = {
        sid: f"{naked_watch.longest[sid]:.1f}s ({naked_watch.detail[sid]})"
        for sid in naked_watch.longest
        if naked_watch.longest[sid] > MAX_UNHEDGED_S + NAKED_GRACE_S
    }
    assert not too_long, f"a leg stayed naked past max_unhedged_ms during chaos: {too_long}"


def _fenced_but_filled(records: dict[str, Any]) -> list[str]:
    """Orders approved before a halt (an older epoch) with a fill later than the halt: the halt's state
    is stored before its cancels go out, and execution reads it before placing, so none may exist
    (fills within 1 s of the halt are orders already in the venue's hands when it came)."""
    late = []
    for coid, record in records.items():
        for at, epoch in HALTS:
            if record.order.epoch < epoch and any(f.fill_ns > at + 1_000_000_000 for f in record.fills):
                late.append(f"{coid} (epoch {record.order.epoch} < {epoch})")
    return late


def _filled_late(records: dict[str, Any]) -> list[str]:
    """Market orders (every strategy order here) fill when placed: a fill past the order's placement
    deadline plus the allowed clock skew means it was placed too late."""
    allowance = int(CLOCK_SKEW_S * 1_000_000_000)
    return [
        coid
        for coid, record in records.items()
        if record.order.expires_ns
        and any(f.fill_ns > record.order.expires_ns + allowance for f in record.fills)
    ]


async def test_halt_between_the_legs_of_an_entry_leaves_no_naked_leg(stack: Stack) -> None:
    """Runs after the consistency check (it halts trading): the kill switch goes on right after
    leg 1 of a dual-leg entry was approved. Leg 2 must still complete the hedge, or leg 1 be unwound,
    within the instance's unhedged bound."""
    assert stack.bus is not None
    halted: list[Order] = []
    done = asyncio.Event()

    async def on_approved(msg: Any) -> None:
        order = codec.decode(msg.data, Order)
        entry = order.purpose is Purpose.ENTRY and order.leg == 1
        if order.strategy_id in DUAL_LEGS and entry and not done.is_set():
            done.set()
            halted.append(order)
            await _halt_recorded(stack, "chaos: halt between the legs")

    sub = await stack.bus.nc.subscribe(subjects.approved(PAPER_VENUE), cb=on_approved)
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await sub.unsubscribe()
    sid = halted[0].strategy_id
    naked: list[str] = []

    async def hedged() -> bool:
        naked[:] = [line for line in naked_legs(await stack.positions()) if line.startswith(sid)]
        return not naked

    await asyncio.sleep(1.0)  # leg 1 fills and reaches the ledger first (the bound starts there)
    try:
        await eventually(hedged, timeout_s=MAX_UNHEDGED_S + NAKED_GRACE_S, interval_s=0.3)
    except AssertionError:
        leg2 = client_order_id(sid, halted[0].intent_seq + 1, 2)
        refusals = [
            line for line in stack.log_lines("risk", "intent_rejected") if line["client_order_id"] == leg2
        ]
        raise AssertionError(f"halt between the legs left {naked} naked; risk on leg 2: {refusals}") from None


async def _no_naked_leg(stack: Stack, timeout_s: float) -> None:
    naked: list[str] = []

    async def hedged() -> bool:
        naked[:] = naked_legs(await stack.positions())
        return not naked

    try:
        await eventually(hedged, timeout_s=timeout_s, interval_s=0.3)
    except AssertionError:
        raise AssertionError(f"a leg stayed naked past {timeout_s}s: {naked}") from None


async def test_simulator_killed_and_restarted_feeds_the_stack_again(stack: Stack) -> None:
    """Runs last (after the consistency check): the venue itself dies and the launcher restarts it."""
    info_path = stack.data_dir / "sim" / "sim.json"
    before = json.loads(info_path.read_text())
    connects = len(stack.log_lines("marketdata", "ws_connected"))
    await _kill(stack, "exchange-sim")

    async def fed_again() -> bool:
        connected = len(stack.log_lines("marketdata", "ws_connected")) > connects
        return connected and await stack.ready("marketdata")

    def moved() -> dict[str, Any] | None:
        try:
            after: dict[str, Any] = json.loads(info_path.read_text())
        except (OSError, ValueError):
            return None
        return (
            after
            if (after["ws_url"], after["rest_host"]) != (before["ws_url"], before["rest_host"])
            else None
        )

    async def fed_or_moved() -> str:
        return "fed" if await fed_again() else ("moved" if moved() else "")

    outcome = await eventually(fed_or_moved, timeout_s=20, interval_s=0.3, what="simulator back")
    if outcome == "moved":
        with contextlib.suppress(AssertionError):  # grace for a feed that does follow the move
            await eventually(fed_again, timeout_s=6, interval_s=0.3)
            return
        after = moved() or {}
        raise AssertionError(
            f"a restarted simulator moved to new ports ({before['ws_url']} -> {after.get('ws_url')}) "
            "and marketdata did not follow"
        )
