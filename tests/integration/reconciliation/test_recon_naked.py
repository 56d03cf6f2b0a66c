"""The naked-leg backstop: a pairs instance that its own machine no longer manages (halted by its
supervisor, orphaned by a dead worker, deleted) holds leg 1 of an entry and not leg 2. Reconciliation
unwinds leg 1 with a corrective intent `max_unhedged_ms` after the fill (plus one check interval),
not after a cycle interval plus `max_unhedged_s`; and, once that unwind is filled, reports how long
the leg was naked. A plug-in `TwoLegStrategy` is known by its spec's `PluginParams` (its kind is
its class name) and hedged by the ratio its snapshot's two-leg machine holds."""

from __future__ import annotations

import time
import uuid

import pytest
from prometheus_client import REGISTRY

from services.reconciliation.model import Kind
from services.strategy.specs import delete_spec, put_spec
from shared import subjects
from shared.messages import (
    Mode,
    OrderIntent,
    PairsParams,
    PluginParams,
    Purpose,
    Side,
    StrategySpec,
    snapshot_key,
)
from shared.messages.snapshots import InstanceSnapshot
from shared.sdk.twoleg import TwoLegSnapshot
from shared.strategies.dual_leg_state import MachineState
from shared.testing import eventually

from .helpers import D, FakeWorker, Stack

pytestmark = pytest.mark.integration
S = 1_000_000_000
LIMIT_MS = 300
SLACK_S = 1.0
"""Scheduling headroom on a loaded test machine."""
HALTED = "restart budget exhausted (5 failures): RuntimeError: boom"


def pairs() -> PairsParams:
    return PairsParams(
        leg1_id="BTC-USD", leg2_id="ETH-USD", window=5, hedge_ratio="fixed", max_unhedged_ms=LIMIT_MS
    )


async def put_pairs(stack: Stack, sid: str) -> None:
    await put_spec(stack.bus, StrategySpec(id=sid, params=pairs(), venue=stack.venue, mode=Mode.LIVE))


async def open_leg(stack: Stack, sid: str) -> tuple[int, OrderIntent]:
    """Leg 1 of an entry is filled and reported; leg 2 never comes. Returns when it started."""
    started = time.time_ns()
    leg1 = await stack.intent(sid, 1, 1, "BTC-USD", Side.BUY, "0.5")
    await stack.execute(leg1)
    return started, leg1


def correctives(stack: Stack, sid: str) -> list[OrderIntent]:
    return [i for i in stack.audit.intents if i.strategy_id == sid and i.purpose is Purpose.CORRECTIVE]


async def unwind_of(stack: Stack, sid: str) -> OrderIntent:
    (unwind,) = await eventually(lambda: correctives(stack, sid), timeout_s=15, what=f"unwind of {sid}")
    assert (unwind.product_id, unwind.side, unwind.size, unwind.venue) == (
        "BTC-USD",
        Side.SELL,
        D("0.5"),
        stack.venue,
    )
    assert unwind.expires_ns == unwind.created_ns + 5 * S
    return unwind


def histogram_count() -> float:
    return REGISTRY.get_sample_value("recon_naked_leg_seconds_count") or 0.0


async def finish(stack: Stack, sid: str, unwind: OrderIntent, started: int) -> None:
    """Risk passes the unwind and execution fills it: the leg is closed, the episode measured."""
    assert stack.service is not None
    service = stack.service
    before = histogram_count()
    await stack.execute(unwind)
    await eventually(lambda: stack.audit.position(sid, "BTC-USD") == 0, what="leg 1 unwound")
    await eventually(lambda: sid not in service.naked_since, what="naked episode ended")
    closed_s = (time.time_ns() - started) / S
    assert LIMIT_MS / 1000 <= service.worst_naked_s <= closed_s
    assert histogram_count() > before
    assert stack.balance("BTC") == D(1)
    await eventually(lambda: Kind.NAKED_LEG in stack.audit.kinds(), what="naked leg reported")
    assert len(correctives(stack, sid)) == 1


async def test_supervisor_halted_instance_with_one_leg_filled_is_unwound_within_its_bound(
    stack: Stack,
) -> None:
    service = await stack.start()
    sid = f"halted-{uuid.uuid4().hex[:6]}"
    await put_pairs(stack, sid)
    worker = await FakeWorker(stack.bus, sid, "halted", HALTED).start()
    try:
        started, _ = await open_leg(stack, sid)
        unwind = await unwind_of(stack, sid)
        waited = (unwind.created_ns - started) / S
        assert (
            LIMIT_MS / 1000 <= waited <= LIMIT_MS / 1000 + service.settings.naked_check_interval_s + SLACK_S
        )
        await finish(stack, sid, unwind, started)
    finally:
        await worker.stop()
        await delete_spec(stack.bus, sid)


async def test_orphaned_instance_is_unwound_once_its_lease_is_stale(stack: Stack) -> None:
    service = await stack.start(lease_ttl_s=1.0)
    sid = f"orphan-{uuid.uuid4().hex[:6]}"
    await put_pairs(stack, sid)
    worker = await FakeWorker(stack.bus, sid, "entering").start()
    try:
        started, _ = await open_leg(stack, sid)
        # While its worker lives, the instance's own machine is in charge: the leg is measured only.
        await eventually(
            lambda: (
                sid in service.naked_since and time.time_ns() - service.naked_since[sid] > 2 * LIMIT_MS * 1e6
            ),
            what="naked leg measured past its bound",
        )
        assert correctives(stack, sid) == []
        died = time.time_ns()
        await worker.stop()
        unwind = await unwind_of(stack, sid)
        waited = (unwind.created_ns - died) / S
        ttl = service.settings.lease_ttl_s
        assert ttl - 0.2 <= waited <= ttl + service.settings.naked_check_interval_s + SLACK_S
        await finish(stack, sid, unwind, started)
    finally:
        await worker.stop()
        await delete_spec(stack.bus, sid)


async def test_deleted_spec_with_an_open_leg_is_unwound_within_the_bound_of_its_snapshot(
    stack: Stack,
) -> None:
    service = await stack.start()
    sid = f"deleted-{uuid.uuid4().hex[:6]}"
    await put_pairs(stack, sid)
    # What the worker keeps of a deleted spec: a retired snapshot with its params.
    snapshots = await stack.bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)
    retired = InstanceSnapshot(
        strategy_id=sid,
        params=pairs(),
        worker_id="gone",
        saved_ns=time.time_ns(),
        retired=True,
        order_venue=stack.venue,
    )
    await snapshots.put(snapshot_key(sid), retired)
    assert await delete_spec(stack.bus, sid)
    started, _ = await open_leg(stack, sid)
    unwind = await unwind_of(stack, sid)
    waited = (unwind.created_ns - started) / S
    # Its own 300 ms (from the snapshot), not the 5 s default for an instance nothing is known of.
    assert LIMIT_MS / 1000 <= waited <= LIMIT_MS / 1000 + service.settings.naked_check_interval_s + SLACK_S
    await finish(stack, sid, unwind, started)


def spread(max_unhedged_ms: int = LIMIT_MS) -> PluginParams:
    """A plug-in two-leg strategy's params as its spec stores them (reconciliation loads no code)."""
    return PluginParams(
        strategy="strategies/spread.py:Spread",
        products=("BTC-USD", "ETH-USD"),
        values={"notional": "100"},
        max_unhedged_ms=max_unhedged_ms,
    )


async def test_a_halted_plugin_two_leg_instance_is_unwound_within_its_bound(stack: Stack) -> None:
    service = await stack.start()
    sid = f"plug-{uuid.uuid4().hex[:6]}"
    spec = StrategySpec(id=sid, params=spread(), venue=stack.venue, mode=Mode.LIVE)
    assert spec.kind == "Spread"
    await put_spec(stack.bus, spec)
    worker = await FakeWorker(stack.bus, sid, "halted", HALTED, kind=spec.kind).start()
    try:
        started, _ = await open_leg(stack, sid)
        unwind = await unwind_of(stack, sid)
        waited = (unwind.created_ns - started) / S
        assert (
            LIMIT_MS / 1000 <= waited <= LIMIT_MS / 1000 + service.settings.naked_check_interval_s + SLACK_S
        )
        await finish(stack, sid, unwind, started)
    finally:
        await worker.stop()
        await delete_spec(stack.bus, sid)


async def test_a_deleted_plugin_two_leg_instance_is_cut_to_the_hedge_ratio_of_its_snapshot(
    stack: Stack,
) -> None:
    """Both legs held on opposite sides, but 2 ETH hedge only 0.2 BTC at the machine's ratio of 10
    ETH per BTC: the excess 0.3 BTC is sold (without the ratio, opposite legs look hedged)."""
    limit_ms = 1_500  # both legs fill well inside it, so only the imbalance is left to unwind
    service = await stack.start()
    sid = f"plugdel-{uuid.uuid4().hex[:6]}"
    await put_spec(
        stack.bus, StrategySpec(id=sid, params=spread(limit_ms), venue=stack.venue, mode=Mode.LIVE)
    )
    snapshots = await stack.bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)
    retired = InstanceSnapshot(
        strategy_id=sid,
        params=spread(limit_ms),
        worker_id="gone",
        saved_ns=time.time_ns(),
        twoleg=TwoLegSnapshot(machine=MachineState(hedge_ratio=D(10), next_seq=3)),
        retired=True,
        order_venue=stack.venue,
    )
    await snapshots.put(snapshot_key(sid), retired)
    assert await delete_spec(stack.bus, sid)
    started, _ = await open_leg(stack, sid)
    await stack.execute(await stack.intent(sid, 1, 2, "ETH-USD", Side.SELL, "2"))
    await eventually(lambda: stack.audit.position(sid, "ETH-USD") == D(-2), what="leg 2 filled")
    (cut,) = await eventually(lambda: correctives(stack, sid), timeout_s=15, what=f"cut of {sid}")
    assert (cut.product_id, cut.side, cut.size) == ("BTC-USD", Side.SELL, D("0.3"))
    assert (cut.created_ns - started) / S >= limit_ms / 1000
    await stack.execute(cut)
    await eventually(lambda: stack.audit.position(sid, "BTC-USD") == D("0.2"), what="excess sold")
    await eventually(lambda: sid not in service.naked_since, what="naked episode ended")
    assert len(correctives(stack, sid)) == 1
    assert stack.audit.position(sid, "ETH-USD") == D(-2)
