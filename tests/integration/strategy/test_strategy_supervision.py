"""Supervision: an invalid spec is reported (not fatal), a crashing instance is restarted from its
snapshot, one that keeps crashing is Halted with the reason, and the others carry on."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from services.strategy.sdk_engine import SdkEngine
from services.strategy.specs import SpecError, delete_spec, list_specs, put_spec
from services.strategy.supervisor import Slot
from shared import subjects
from shared.messages import CommandAction, StrategyCommand, StrategyCommandReply, snapshot_key
from shared.messages.market import Ticker
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams, StrategySpec, StrategyStatus
from shared.testing import eventually
from tests.integration.strategy.conftest import StartWorker
from tests.integration.strategy.helpers import Collector, D, put_product, send, ticker, uid

pytestmark = pytest.mark.integration


def _ma(sid: str, product: str) -> StrategySpec:
    return StrategySpec(id=sid, params=MaCrossoverParams(product_id=product, short_window=2, long_window=3))


async def test_an_invalid_spec_is_reported_and_the_worker_carries_on(bus, start_worker: StartWorker) -> None:
    bad, good, product = uid("bad"), uid("good"), uid("IV")
    await put_product(bus, product)
    with pytest.raises(SpecError):  # refused on write …
        await put_spec(bus, StrategySpec(id=bad, params=MaCrossoverParams(product_id="BTC.USD")))
    status = await Collector[StrategyStatus]().start(bus, subjects.strategy_status(bad), StrategyStatus)
    raw = {
        "id": bad,
        "params": {"type": "ma_crossover", "product_id": product, "short_window": 9, "long_window": 3},
    }
    specs_kv = await bus.js.key_value(subjects.KV_STRATEGY_SPECS)
    await specs_kv.put(bad, msgspec.msgpack.encode(raw))  # … but a hand-written one gets in
    await put_spec(bus, _ma(good, product))
    worker = await start_worker(uid("w"))
    await eventually(lambda: any(s.state == "invalid" for s in status.items), what="invalid status")
    assert "short_window" in status.items[-1].detail
    assert status.items[-1].worker_id == worker.worker_id
    await eventually(lambda: worker.states().get(good) == "flat", what="the valid instance runs")
    reply = await bus.request(
        subjects.strategy_control(bad), StrategyCommand(action=CommandAction.STATUS), StrategyCommandReply
    )
    assert (reply.ok, reply.state) == (True, "invalid")


async def test_a_crashing_instance_is_restarted_and_a_hopeless_one_halted(
    bus, start_worker: StartWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky, hopeless, p1, p2 = uid("flaky"), uid("hopeless"), uid("CR"), uid("HP")
    await put_product(bus, p1)
    await put_product(bus, p2)
    crashes: list[str] = []
    original = SdkEngine.on_ticker

    def exploding(self: SdkEngine, tick: Ticker) -> bool:
        if tick.last == D(666):
            crashes.append(self.runner.sid)
            raise RuntimeError("boom")
        return original(self, tick)

    monkeypatch.setattr(SdkEngine, "on_ticker", exploding)
    status = await Collector[StrategyStatus]().start(bus, subjects.strategy_status(hopeless), StrategyStatus)
    worker = await start_worker(uid("w"), restart_budget=3)
    await put_spec(bus, _ma(flaky, p1))
    await put_spec(bus, _ma(hopeless, p2))
    await eventually(lambda: worker.states().get(flaky) == "flat", what="flaky running")
    first = worker.slots[flaky].instance
    await send(bus, ticker(p1, 100, last=666))
    await eventually(lambda: crashes.count(flaky) == 1, what="one crash")
    await eventually(
        lambda: worker.states().get(flaky) == "flat" and worker.slots[flaky].instance is not first,
        what="restarted",
    )

    async def crash_hopeless() -> bool:
        if worker.states().get(hopeless) == "halted":
            return True
        await send(bus, ticker(p2, 100, last=666))
        return False

    await eventually(crash_hopeless, timeout_s=10, interval_s=0.05, what="halted after the budget")
    assert crashes.count(hopeless) == 3
    await eventually(lambda: any(s.state == "halted" for s in status.items), what="halted status")
    halted = [s for s in status.items if s.state == "halted"]
    assert "restart budget exhausted" in halted[-1].detail
    assert "boom" in halted[-1].detail
    await eventually(lambda: worker.states().get(flaky) == "flat", what="the other instance is unaffected")
    snapshots = await bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)
    stored = await snapshots.get(snapshot_key(hopeless))
    assert stored is not None
    assert "restart budget exhausted" in stored.value.halted  # a new owner would keep it halted
    reply = await bus.request(
        subjects.strategy_control(hopeless),
        StrategyCommand(action=CommandAction.RESTART),
        StrategyCommandReply,
    )
    assert reply.ok
    await eventually(lambda: worker.states().get(hopeless) == "flat", what="restarted by command")


async def test_stop_command_disables_and_delete_retires(bus, start_worker: StartWorker) -> None:
    stopped, deleted, product = uid("stop"), uid("del"), uid("SD")
    await put_product(bus, product)
    worker = await start_worker(uid("w"))
    await put_spec(bus, _ma(stopped, product))
    await put_spec(bus, _ma(deleted, product))
    await eventually(lambda: {stopped, deleted} <= set(worker.states()), what="both running")

    reply = await bus.request(
        subjects.strategy_control(stopped), StrategyCommand(action=CommandAction.STOP), StrategyCommandReply
    )
    assert reply.ok
    await eventually(lambda: stopped not in worker.slots, what="stopped")
    spec = (await list_specs(bus))[stopped]
    assert isinstance(spec, StrategySpec)
    assert not spec.enabled

    await delete_spec(bus, deleted)
    await eventually(lambda: deleted not in worker.slots, what="deleted")
    snapshots = await bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)

    async def retired() -> bool:
        # The slot leaves the worker first; its final (retired) snapshot is written as it stops.
        entry = await snapshots.get(snapshot_key(deleted))
        return entry is not None and entry.value.retired

    assert await eventually(retired, what="the deleted instance's snapshot retired")
    assert worker.states().keys().isdisjoint({stopped, deleted})


async def test_a_worker_stopped_while_it_retires_an_instance_stops(
    bus, start_worker: StartWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: stopping the worker while a deleted instance was still writing its final
    snapshot swallowed the cancellation of the worker loop, and `stop()` never returned."""
    sid, product = uid("slow"), uid("SL")
    await put_product(bus, product)
    original = Slot.save_snapshot

    async def slow_final_write(self: Slot, snap: InstanceSnapshot) -> None:
        if self._stopping:
            await asyncio.sleep(0.5)
        await original(self, snap)

    monkeypatch.setattr(Slot, "save_snapshot", slow_final_write)
    worker = await start_worker(uid("w"))
    await put_spec(bus, _ma(sid, product))
    await eventually(lambda: worker.states().get(sid) == "flat", what="running")
    await delete_spec(bus, sid)
    await eventually(lambda: sid not in worker.slots, what="retiring")  # popped, final write pending
    stopping = asyncio.create_task(worker.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    assert stopping in done, "worker.stop() hung"
    stopping.result()
