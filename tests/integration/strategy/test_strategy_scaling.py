"""Several workers: instances split by lease, a dead worker's instances move within the lease TTL,
restored from their snapshot, and the client order id sequence continues (nothing sent twice)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from services.strategy.service import StrategyService
from services.strategy.specs import put_spec
from shared import subjects
from shared.messages import snapshot_key
from shared.messages.orders import OrderIntent, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams, StrategySpec
from shared.testing import eventually
from tests.integration.strategy.conftest import StartWorker
from tests.integration.strategy.helpers import Collector, D, Side, fill, kill, put_product, send, ticker, uid

pytestmark = pytest.mark.integration
SECOND = 1_000_000_000
AFTER_TAKEOVER_S = 15.0  # generous: a loaded CI machine; a failure says what the new owner saw


def _seen_by(worker: StrategyService, sid: str) -> str:
    """What a worker's instance made of the ticks, for a failure message."""
    slot = worker.slots.get(sid)
    inst = slot.instance if slot is not None else None
    runner = getattr(inst.engine, "runner", None) if inst is not None else None
    book = getattr(runner, "book", None)  # the SDK engine's book: positions, orders, bars
    router = worker._ctx.router if worker._ctx is not None else None
    return (
        f"state={worker.states().get(sid)} ticks_routed={router.received if router else None} "
        f"instance_ticks={inst.ticks if inst else None} book={book!r}"
    )


async def _signal_on(worker: StrategyService, sid: str, check: Callable[[], bool], what: str) -> None:
    try:
        await eventually(check, timeout_s=AFTER_TAKEOVER_S, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the new owner saw: {_seen_by(worker, sid)}") from None


def _ma(sid: str, product: str) -> StrategySpec:
    params = MaCrossoverParams(
        product_id=product, short_window=2, long_window=3, interval_s=1, order_size=D("0.5")
    )
    return StrategySpec(id=sid, params=params)


async def test_two_workers_split_six_instances_and_a_dead_ones_move_within_the_ttl(
    bus, start_worker: StartWorker
) -> None:
    product = uid("SC")
    await put_product(bus, product)
    sids = [uid(f"inst{i}") for i in range(6)]
    a = await start_worker(uid("wa"))
    b = await start_worker(uid("wb"))
    for sid in sids:
        await put_spec(bus, _ma(sid, product))

    def split() -> bool:
        owned_a, owned_b = set(a.slots), set(b.slots)
        return (
            not (owned_a & owned_b) and owned_a | owned_b == set(sids) and len(owned_a) == len(owned_b) == 3
        )

    await eventually(split, timeout_s=10, what="3 + 3, each instance owned once")
    moved = set(a.slots)
    await kill(a)
    died = time.monotonic()
    await eventually(lambda: set(b.slots) == set(sids), timeout_s=10, what="the survivor owns all six")
    assert time.monotonic() - died < b.settings.lease_ttl_s + 2.0
    await eventually(lambda: all(b.states().get(s) == "flat" for s in moved), what="moved instances running")


async def test_takeover_restores_the_snapshot_and_continues_the_order_sequence(
    bus, start_worker: StartWorker
) -> None:
    sid, product = uid("ma"), uid("TK")
    await put_product(bus, product)
    intents = await Collector[OrderIntent]().start(bus, subjects.intent(sid), OrderIntent)
    a = await start_worker(uid("wa"))
    await put_spec(bus, _ma(sid, product))
    await eventually(lambda: a.states().get(sid) == "flat", what="running on A")
    t0 = (time.time_ns() // SECOND + 1) * SECOND
    rising = [100, 100, 100, 90, 80, 70, 120, 150, 150]
    for i, price in enumerate(rising):
        await send(bus, ticker(product, price, ts_ns=t0 + i * SECOND))
    await eventually(lambda: len(intents.items) == 1, what="the buy on A")
    await fill(bus, intents.items[0])
    snapshots = await bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)

    async def stored_long() -> bool:
        entry = await snapshots.get(snapshot_key(sid))
        sdk = entry.value.sdk if entry is not None else None
        return sdk is not None and sdk.book.positions.get(product) == D("0.5")

    await eventually(stored_long, what="the fill is in the snapshot")
    await eventually(lambda: a.states().get(sid) == "in_position", what="A is long")

    b = await start_worker(uid("wb"))
    await kill(a)
    await eventually(lambda: b.states().get(sid) == "in_position", timeout_s=8, what="B restored the long")
    start = len(rising)
    for i, price in enumerate([140, 100, 60, 60]):  # a strict death cross (a touch is not one)
        await send(bus, ticker(product, price, ts_ns=t0 + (start + i) * SECOND))
    await _signal_on(b, sid, lambda: len(intents.items) == 2, "the sell on B")
    buy, sell = intents.items
    assert (buy.side, sell.side) == (Side.BUY, Side.SELL)
    assert sell.size == D("0.5")  # the position from fills, carried in the snapshot
    assert [buy.client_order_id, sell.client_order_id] == [
        client_order_id(sid, 1, 1),
        client_order_id(sid, 2, 1),
    ]
    assert len({i.client_order_id for i in intents.items}) == len(intents.items)


async def test_a_worker_that_joins_late_gets_its_share(bus, start_worker: StartWorker) -> None:
    product = uid("LJ")
    await put_product(bus, product)
    sids = [uid(f"late{i}") for i in range(4)]
    for sid in sids:
        await put_spec(bus, _ma(sid, product))
    a = await start_worker(uid("wa"))
    await eventually(lambda: len(a.slots) == 4, what="A owns everything while alone")
    b = await start_worker(uid("wb"))
    await eventually(lambda: len(a.slots) == len(b.slots) == 2, timeout_s=10, what="2 + 2 after A sheds")
    assert not set(a.slots) & set(b.slots)
    await eventually(lambda: all(b.states().get(s) == "flat" for s in b.slots), what="B runs its share")


async def test_a_frozen_owner_is_fenced_by_the_snapshot_revision(bus, start_worker: StartWorker) -> None:
    """A worker that stops heartbeating but keeps running (a long GC pause, a partition) loses the
    instance; its next write is refused, so only the new owner's intent goes out."""
    sid, product = uid("ma"), uid("FZ")
    await put_product(bus, product)
    intents = await Collector[OrderIntent]().start(bus, subjects.intent(sid), OrderIntent)
    a = await start_worker(uid("wa"))
    await put_spec(bus, _ma(sid, product))
    await eventually(lambda: a.states().get(sid) == "flat", what="running on A")
    t0 = (time.time_ns() // SECOND + 1) * SECOND
    await send(bus, ticker(product, 100, ts_ns=t0))
    b = await start_worker(uid("wb"))
    await a._cancel_loop()  # A freezes: no more heartbeats, but its instance still runs
    await eventually(lambda: b.states().get(sid) == "flat", timeout_s=8, what="B took over")
    assert sid in a.slots  # A has not noticed
    for i, price in enumerate([100, 100, 100, 90, 80, 70, 120, 150], start=1):
        await send(bus, ticker(product, price, ts_ns=t0 + i * SECOND))
    await _signal_on(b, sid, lambda: len(intents.items) >= 1, "a buy")
    await eventually(lambda: a.slots[sid].lost, what="A's write was refused")
    assert len(intents.items) == 1
    assert intents.items[0].client_order_id == client_order_id(sid, 1, 1)
