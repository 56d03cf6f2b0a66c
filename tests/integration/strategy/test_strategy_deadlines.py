"""Intents carry a placement deadline of the spec's `order_ttl_ms`, and one sent again after a
restart keeps its original dates: the real risk service refuses it once stale, and the instance
takes the refusal as "nothing filled". A changed mode never carries a position to the other venue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from services.risk.config import RiskSettings
from services.risk.service import RiskService
from services.strategy.service import StrategyService
from services.strategy.specs import put_spec
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import ProductInfo, snapshot_key
from shared.messages.orders import OrderIntent, RiskDecision
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams, Mode, StrategySpec
from shared.natsserver import NatsServer
from shared.runtime import ServiceContext
from shared.testing import eventually
from tests.integration.strategy.conftest import StartWorker
from tests.integration.strategy.helpers import (
    ORDER_VENUE,
    Collector,
    D,
    Side,
    fast_settings,
    fill,
    pairs_spec,
    put_product,
    send,
    ticker,
    uid,
)

pytestmark = pytest.mark.integration
SECOND = 1_000_000_000
TTL_MS = 200


@pytest.fixture
async def own_bus(private_nats: NatsServer) -> AsyncIterator[Bus]:
    """A server of the test's own: the test deletes a stream and risk follows whole streams."""
    bus = await Bus.connect(NatsSettings(url=private_nats.url), service="test")
    await streams.provision(bus.js)
    yield bus
    await bus.close()


async def _snapshot(bus: Bus, sid: str) -> InstanceSnapshot | None:
    entry = await (await bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)).get(snapshot_key(sid))
    return None if entry is None else entry.value


async def test_an_unsent_entry_older_than_its_ttl_at_restart_is_refused_and_never_placed(
    own_bus: Bus, private_nats: NatsServer
) -> None:
    bus = own_bus
    sid, a, b = uid("stale"), uid("SA"), uid("SB")
    await put_product(bus, a, base_increment="0.001")
    await put_product(bus, b, base_increment="0.001")
    published = await Collector[OrderIntent]().start(bus, subjects.intent(sid), OrderIntent)
    decisions = await Collector[RiskDecision]().start(bus, subjects.decision(sid), RiskDecision)
    settings = fast_settings(private_nats.url, uid("w"), restart_budget=1_000, restart_max_s=0.1)
    worker_bus = await Bus.connect(settings.nats, service="strategy-test")
    worker = StrategyService(settings)
    await worker.start(ServiceContext("strategy", settings, worker_bus))
    risk_settings = RiskSettings(nats=NatsSettings(url=private_nats.url), startup_grace_s=0.0)
    risk = RiskService(risk_settings)
    risk_bus: Bus | None = None
    try:
        spec = msgspec.structs.replace(pairs_spec(sid, a, b), order_ttl_ms=TTL_MS)
        await put_spec(bus, spec)
        await eventually(lambda: worker.states().get(sid) == "flat", what="instance running")
        for i in range(5):  # a flat spread: σ = 0
            await send(bus, ticker(b, 100, seq=i))
            await send(bus, ticker(a, 100, seq=i))
            await bus.nc.flush()
            await eventually(lambda i=i: worker.slots[sid].instance.ticks > i, what=f"tick {i} processed")

        # The entry is decided and stored as unsent, but it cannot be published: the instance
        # fails and is rebuilt from its snapshot, again and again, until INTENTS is back.
        await bus.js.delete_stream(subjects.STREAM_INTENTS)
        await send(bus, ticker(b, 100, seq=5))
        await send(bus, ticker(a, 110, seq=5))

        async def stored_unsent() -> tuple[OrderIntent, ...]:
            snap = await _snapshot(bus, sid)
            return snap.unsent if snap is not None else ()

        unsent = await eventually(stored_unsent, what="the entry legs stored as unsent")
        assert len(unsent) == 2
        assert all(i.expires_ns == i.created_ns + TTL_MS * 1_000_000 for i in unsent)
        assert all(i.venue == ORDER_VENUE for i in unsent)
        late_s = (max(i.expires_ns for i in unsent) - time.time_ns()) / SECOND
        await asyncio.sleep(max(0.0, late_s) + 0.05)  # the scenario itself: the deadline passes

        await streams.provision(bus.js)
        risk_bus = await Bus.connect(risk_settings.nats, service="risk-test")
        await risk.start(ServiceContext("risk", risk_settings, risk_bus))

        ids = {i.client_order_id for i in unsent}

        def refused() -> bool:
            return {d.client_order_id for d in decisions.items if not d.approved} == ids

        await eventually(refused, timeout_s=10, what="both stale legs refused by risk")
        assert all("STALE_INTENT" in d.reasons for d in decisions.items), decisions.items
        assert not any(d.approved for d in decisions.items)
        await eventually(lambda: worker.states().get(sid) == "flat", what="flat: nothing was filled")
        # Every publication, before and after the restarts, carried the original decision's dates.
        assert published.items
        assert {(i.client_order_id, i.created_ns, i.expires_ns) for i in published.items} == {
            (i.client_order_id, i.created_ns, i.expires_ns) for i in unsent
        }
        assert (await bus.js.stream_info(subjects.STREAM_APPROVED)).state.messages == 0
    finally:
        if risk_bus is not None:
            await risk.stop()
            await risk_bus.close()
        await worker.stop()
        await worker_bus.close()


async def test_a_changed_mode_starts_flat_on_the_new_venue_and_keeps_the_order_sequence(
    bus: Bus, start_worker: StartWorker
) -> None:
    """A position filled on paper is not a live position: after the switch the instance holds
    nothing on `coinbase`, listens to its fills there, and never reuses a client order id."""
    sid, product = uid("mode"), uid("MO")
    await put_product(bus, product)
    live_info = ProductInfo(
        venue="coinbase",
        product_id=product,
        base_increment=D("0.0001"),
        price_increment=D("0.01"),
        base_min_size=D("0.0001"),
    )
    await (await bus.kv(subjects.KV_PRODUCTS, ProductInfo)).put(
        subjects.product_key("coinbase", product), live_info
    )
    intents = await Collector[OrderIntent]().start(bus, subjects.intent(sid), OrderIntent)
    worker = await start_worker(uid("w"))
    params = MaCrossoverParams(product_id=product, short_window=2, long_window=3, interval_s=1)
    paper = StrategySpec(id=sid, params=params)
    await put_spec(bus, paper)
    await eventually(lambda: worker.states().get(sid) == "flat", what="running on paper")
    t0 = (time.time_ns() // SECOND + 1) * SECOND
    for i, price in enumerate([100, 100, 100, 90, 80, 70, 120, 150, 150]):
        await send(bus, ticker(product, price, ts_ns=t0 + i * SECOND))
    await eventually(lambda: len(intents.items) == 1, what="the paper buy")
    assert intents.items[0].venue == ORDER_VENUE
    await fill(bus, intents.items[0])
    await eventually(lambda: worker.states().get(sid) == "in_position", what="long on paper")

    await put_spec(bus, msgspec.structs.replace(paper, mode=Mode.LIVE))

    async def flat_on_live() -> bool:
        snap = await _snapshot(bus, sid)
        return worker.states().get(sid) == "flat" and snap is not None and snap.order_venue == "coinbase"

    await eventually(flat_on_live, what="flat on the live venue")
    start = 9
    for i, price in enumerate([100, 100, 100, 90, 80, 70, 120, 150, 150]):
        await send(bus, ticker(product, price, ts_ns=t0 + (start + i) * SECOND))
    await eventually(lambda: len(intents.items) == 2, what="a live buy")
    live = intents.items[1]
    assert (live.venue, live.side, live.intent_seq) == ("coinbase", Side.BUY, 2)
    await fill(bus, live)  # on fills.coinbase.<product>: the live venue's durable hears it
    await eventually(lambda: worker.states().get(sid) == "in_position", what="long on live")
