"""The tick router on a real nats-server: a product only latest-quote instances trade is conflated
when the worker falls behind; one an MA instance trades delivers every tick."""

from __future__ import annotations

import time

import pytest

from services.strategy.router import TickRouter
from shared.bus import Bus
from shared.messages.market import Ticker
from shared.testing import eventually
from tests.integration.strategy.helpers import VENUE, send, ticker, uid

pytestmark = pytest.mark.integration
BURST = 200


async def test_a_worker_behind_sees_only_the_newest_quote_unless_an_instance_needs_every_tick(
    bus: Bus,
) -> None:
    latest_only, every = uid("LQ"), uid("ET")
    router = TickRouter(bus, max_pending=1_000)
    seen: dict[str, list[int]] = {latest_only: [], every: []}

    def sink(product: str) -> object:
        def on_ticker(tick: Ticker) -> None:
            if not seen[product]:
                time.sleep(0.05)  # the worker is busy: the burst queues up behind the first tick
            seen[product].append(int(tick.last))

        return on_ticker

    await router.add(VENUE, latest_only, sink(latest_only), every_tick=False)  # type: ignore[arg-type]
    await router.add(VENUE, every, sink(every), every_tick=True)  # type: ignore[arg-type]
    try:
        for i in range(1, BURST + 1):
            await send(bus, ticker(latest_only, i))
            await send(bus, ticker(every, i))
        await bus.nc.flush()
        await eventually(lambda: seen[every][-1:] == [BURST], what="every tick of the MA product")
        await eventually(lambda: seen[latest_only][-1:] == [BURST], what="the newest quote")
        assert seen[every] == list(range(1, BURST + 1))
        assert len(seen[latest_only]) < BURST
        assert router.dropped == BURST - len(seen[latest_only])
    finally:
        await router.close()


async def test_an_every_tick_instance_joining_a_conflated_product_gets_every_tick(bus: Bus) -> None:
    product = uid("JN")
    router = TickRouter(bus, max_pending=1_000)
    dual: list[int] = []
    ma: list[int] = []
    await router.add(VENUE, product, lambda t: dual.append(int(t.last)), every_tick=False)
    await router.add(VENUE, product, lambda t: ma.append(int(t.last)), every_tick=True)
    try:
        for i in range(1, 51):
            await send(bus, ticker(product, i))
        await bus.nc.flush()
        await eventually(lambda: ma[-1:] == [50], what="all ticks")
        assert ma == dual == list(range(1, 51))
    finally:
        await router.close()
