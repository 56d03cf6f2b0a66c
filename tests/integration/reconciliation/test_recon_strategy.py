"""The pair crash with the real strategy worker: a pairs instance enters, execution fills leg 1 at
the simulator and dies before reporting it (leg 2 never sent); the instance times out into
Reconciling. Reconciliation books leg 1 and sends the unwind through the intent stream (its naked-leg
backstop owns a leg whose machine gave up); once that trade is done it resolves the instance to Flat."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from services.strategy.service import StrategyService
from services.strategy.specs import delete_spec, put_spec
from shared import subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import (
    Mode,
    OrderIntent,
    OrderStatus,
    PairsParams,
    ProductInfo,
    Purpose,
    StrategySpec,
    Ticker,
)
from shared.runtime import ServiceContext
from shared.testing import eventually
from tests.integration.strategy.helpers import fast_settings

from .helpers import Stack

pytestmark = pytest.mark.integration
D = Decimal
PAIR = ("BTC-USD", "ETH-USD")


@pytest.fixture
async def worker(nats_url: str) -> AsyncIterator[StrategyService]:
    settings = fast_settings(nats_url, f"w-{time.time_ns()}")
    bus = await Bus.connect(NatsSettings(url=nats_url), service="strategy-recon-test")
    service = StrategyService(settings)
    await service.start(ServiceContext("strategy", settings, bus))
    yield service
    await service.stop()
    await bus.close()


def tick(venue: str, product: str, price: str, seq: int) -> Ticker:
    p, now = D(price), time.time_ns()
    return Ticker(
        venue=venue,
        product_id=product,
        bid=p - D("0.01"),
        ask=p + D("0.01"),
        bid_size=D(1),
        ask_size=D(1),
        last=p,
        exchange_time_ns=now,
        receive_time_ns=now,
        sequence=seq,
    )


async def enter(stack: Stack, worker: StrategyService, sid: str) -> list[OrderIntent]:
    """Drive the instance into Entering: a flat spread, then a jump of leg 1 (z = 2 > 1.5)."""
    bus, venue = stack.bus, stack.venue
    products = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)
    for product in PAIR:
        info = ProductInfo(
            venue=venue, product_id=product, base_increment=D("0.00000001"), price_increment=D("0.01")
        )
        await products.put(subjects.product_key(venue, product), info)
    params = PairsParams(
        leg1_id=PAIR[0],
        leg2_id=PAIR[1],
        window=5,
        entry_z=1.5,
        exit_z=0.2,
        hedge_ratio="fixed",
        notional=D(50),
        entry_cooldown_ms=0,
        exit_cooldown_ms=0,
        execution_timeout_ms=300,
        max_unhedged_ms=300,
    )
    # Live: its orders go to the venue itself (the simulator), the one reconciled here.
    await put_spec(bus, StrategySpec(id=sid, params=params, venue=venue, mode=Mode.LIVE))
    await eventually(lambda: worker.states().get(sid) == "flat", timeout_s=10, what="instance running")
    for i, p1 in enumerate(["100", "100", "100", "100", "100", "110"]):
        await bus.publish(subjects.ticker(venue, PAIR[1]), tick(venue, PAIR[1], "10", i), traced=False)
        await bus.publish(subjects.ticker(venue, PAIR[0]), tick(venue, PAIR[0], p1, i), traced=False)
        await bus.nc.flush()
        await eventually(lambda i=i: worker.slots[sid].instance.ticks > i, what=f"tick {i} processed")
    return await eventually(
        lambda: (
            sorted((i for i in stack.audit.intents if i.strategy_id == sid), key=lambda i: i.leg)
            if len([i for i in stack.audit.intents if i.strategy_id == sid]) >= 2
            else None
        ),
        what="two entry legs",
    )


async def test_real_pairs_instance_crash_between_legs(stack: Stack, worker: StrategyService) -> None:
    await stack.start()
    sid = f"pairs-{stack.venue}"
    try:
        leg1, _leg2 = await enter(stack, worker, sid)
        venue_id = await stack.place(leg1.client_order_id, leg1.product_id, leg1.side, str(leg1.size))
        await stack.event(leg1, OrderStatus.ACCEPTED, venue_order_id=venue_id)
        # Execution died: no fill, no terminal event for leg 1, leg 2 never sent.
        unwind = await eventually(
            lambda: next(
                (i for i in stack.audit.intents if i.strategy_id == sid and i.purpose is Purpose.CORRECTIVE),
                None,
            ),
            timeout_s=15,
            what="unwind of the unhedged leg",
        )
        assert (unwind.product_id, unwind.side.opposite, unwind.size) == (
            leg1.product_id,
            leg1.side,
            leg1.size,
        )
        assert stack.audit.position(sid, leg1.product_id) == leg1.side.sign * leg1.size
        # The unwind comes from the naked-leg backstop as soon as the machine gives up (reconciling),
        # or from the cycle once it has resolved the instance to Halted, whichever is first.
        assert worker.states()[sid] in ("reconciling", "halted")
        await stack.place(unwind.client_order_id, unwind.product_id, unwind.side, str(unwind.size))
        await eventually(lambda: worker.states()[sid] == "flat", timeout_s=15, what="resolved to Flat")
        assert stack.audit.position(sid, leg1.product_id) == D(0)
        assert stack.balance("BTC") == D(1)
    finally:
        await delete_spec(stack.bus, sid)
