"""Resting limit orders from intent to fill: risk (real, in-process) decides, execution places, the
order rests until the market comes to it, a cancel or a halt. Risk counts a resting order's
exposure until it ends. Paper execution runs on the bus; the live adapter trades with the exchange
simulator through coinbase-advanced-py. Both serve the `coinbase` market on the test's own server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.exchange_sim import ExchangeSim
from services.strategy.effects import publish_cancels
from shared.bus import Bus
from shared.messages import (
    Liquidity,
    Mode,
    OrderIntent,
    OrderStatus,
    TimeInForce,
)
from shared.natsserver import NatsServer
from shared.testing import eventually
from tests.integration.execution.helpers import Harness, LiveHarness, PaperHarness, sim_config
from tests.integration.risk.conftest import RiskHarness, StartRisk

pytestmark = pytest.mark.integration
D = Decimal
MARKET, BTC = "coinbase", "BTC-USD"
BIDS, ASKS = [("99990.00", "1")], [("100010.00", "1")]
MAKER = D("0.005")


def on_market(harness: Harness) -> Harness:
    """The harness serving the `coinbase` market that risk (and its tickers) use."""
    harness.market = MARKET
    harness.venue = MARKET if harness.kind == "live" else f"{MARKET}-paper"
    return harness


@pytest.fixture
async def paper(risk_bus: Bus, private_nats: NatsServer) -> AsyncIterator[Harness]:
    harness = on_market(PaperHarness(risk_bus, private_nats.url))
    yield harness
    await harness.stop()


@pytest.fixture
async def live(risk_bus: Bus, private_nats: NatsServer, tmp_path: Path) -> AsyncIterator[Harness]:
    async with ExchangeSim(sim_config(tmp_path / "sim")) as sim:
        harness = on_market(LiveHarness(risk_bus, private_nats.url, sim))
        yield harness
        await harness.stop()


@pytest.fixture(params=["paper", "live"])
def execution(request: pytest.FixtureRequest) -> Harness:
    result: Harness = request.getfixturevalue(request.param)
    return result


def maker_bid(harness: RiskHarness, venue: str, price: str, **overrides: Any) -> OrderIntent:
    """A post-only GTC limit buy of 0.1 BTC, from `s1` unless told otherwise."""
    values: dict[str, Any] = {
        "venue": venue,
        "limit_price": D(price),
        "time_in_force": TimeInForce.GTC,
        "post_only": True,
    }
    values.update(overrides)
    return harness.intent(**values)


async def test_a_resting_limit_is_counted_until_it_ends_and_fills_as_maker(
    harness: RiskHarness, start_risk: StartRisk, paper: Harness
) -> None:
    await paper.start()  # writes the paper venue's products before risk reads them
    await paper.set_book(BTC, BIDS, ASKS)
    risk = await start_risk(max_position_notional=D(15_000))
    spec = await harness.put_spec("maker", Mode.PAPER)
    await harness.ticker("100000")
    venue, events = paper.venue, paper.recorder

    first = maker_bid(harness, venue, "99800.00", strategy_id="maker")  # 20 bps below the mid
    assert (await harness.decide(first)).approved
    await events.wait_status(first.client_order_id, OrderStatus.ACCEPTED)
    # Resting: 0.1 more at the 100,000 mark would make 20,000 > 15,000.
    assert (await harness.decide(maker_bid(harness, venue, "99800.00", strategy_id="maker"))).reasons == (
        "MAX_POSITION_NOTIONAL",
    )
    assert len(risk.book.pending) == 1

    await publish_cancels(harness.bus, spec, (first.client_order_id,))  # what the instance sends
    await events.wait_status(first.client_order_id, OrderStatus.CANCELLED)
    await eventually(lambda: len(risk.book.pending) == 0, what="the cancelled order freed its exposure")

    second = maker_bid(harness, venue, "99800.00", strategy_id="maker")
    assert (await harness.decide(second)).approved
    await events.wait_status(second.client_order_id, OrderStatus.ACCEPTED)
    await paper.set_book(BTC, [("99700.00", "1")], [("99800.00", "1")])  # the market comes down to it
    done = await events.wait_status(second.client_order_id, OrderStatus.FILLED)
    assert (done.filled_size, done.average_price, done.strategy_id) == (D("0.1"), D(99800), "maker")
    fills = events.fills_of(second.client_order_id)
    assert [(f.liquidity, f.price, f.size, f.fee) for f in fills] == [
        (Liquidity.MAKER, D(99800), D("0.1"), D("0.1") * 99800 * MAKER)  # 49.90 at the maker fee
    ]
    assert events.statuses(second.client_order_id) == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    await eventually(lambda: len(risk.book.pending) == 0, what="the filled order left pending")
    held = {(p.strategy_id, p.venue): p.quantity for p in risk.book.ledger.positions()}
    assert held[("maker", venue)] == D("0.1")

    # Post-only that would take (the ask is at 99,800 now): the venue refuses it, with its reason.
    crossing = maker_bid(harness, venue, "99800.00", strategy_id="maker", size=D("0.02"))
    assert (await harness.decide(crossing)).approved
    rejected = await events.wait_status(crossing.client_order_id, OrderStatus.REJECTED)
    assert rejected.reason == "INVALID_LIMIT_PRICE_POST_ONLY"
    assert not events.fills_of(crossing.client_order_id)
    assert spec.order_venue == venue


async def test_a_halt_cancels_resting_orders(
    harness: RiskHarness, start_risk: StartRisk, execution: Harness
) -> None:
    await execution.start()
    await execution.set_book(BTC, BIDS, ASKS)
    risk = await start_risk()
    mode = Mode.LIVE if execution.kind == "live" else Mode.PAPER
    await harness.put_spec("maker", mode)
    await harness.ticker("100000")
    bids = [
        maker_bid(harness, execution.venue, price, strategy_id="maker") for price in ("99800.00", "99810.00")
    ]
    for intent in bids:
        assert (await harness.decide(intent)).approved
        await execution.recorder.wait_status(intent.client_order_id, OrderStatus.ACCEPTED)
    assert (await harness.control("halt", reason="drill")).ok
    for intent in bids:
        await execution.recorder.wait_status(intent.client_order_id, OrderStatus.CANCELLED)
    await eventually(lambda: len(risk.book.pending) == 0, what="cancelled orders freed their exposure")
    for intent in bids:
        assert not execution.recorder.fills_of(intent.client_order_id)
    assert execution.service is not None
    assert execution.service.fence.floor == risk.book.epoch == 1
