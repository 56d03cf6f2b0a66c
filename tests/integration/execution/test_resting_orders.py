"""Limit orders beyond market IOC, on both adapters (paper on the bus, live against the simulator
through coinbase-advanced-py): strategies' cancels of their own resting orders (`orders.cancel.<venue>.
<strategy>`), a cancel that overtakes its order, limit IOC and FOK. The whole path through risk (a
resting order's exposure, its maker fill, a halt's cancel-all) is in `integration/risk/test_risk_resting.py`.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import REGISTRY

from services.execution.cancels import cancel_subjects
from shared import subjects
from shared.messages import (
    CancelRequest,
    Order,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from shared.testing import eventually

from .helpers import Harness, PaperHarness, make_order

pytestmark = pytest.mark.integration
D = Decimal
BTC = "BTC-USD"
BIDS, ASKS = [("99.00", "1")], [("100.00", "0.3"), ("101.00", "1")]


def resting(harness: Harness, price: str, **overrides: Any) -> Order:
    """A GTC limit buy of 0.1 BTC-USD at `price` (below the scripted market: it rests)."""
    values: dict[str, Any] = {
        "order_type": OrderType.LIMIT,
        "time_in_force": TimeInForce.GTC,
        "size": D("0.1"),
        "limit_price": D(price),
    }
    values.update(overrides)
    return make_order(harness.venue, **values)


def strategy_cancels(outcome: str) -> float:
    return REGISTRY.get_sample_value("execution_strategy_cancels_total", {"outcome": outcome}) or 0.0


async def strategy_cancel(harness: Harness, sender: str, *coids: str, **fields: Any) -> None:
    """What a strategy worker publishes: its cancels on its own subject (payload as given)."""
    values: dict[str, Any] = {
        "venue": harness.venue,
        "client_order_ids": coids,
        "requested_ns": time.time_ns(),
    }
    values.update(fields)
    request = CancelRequest(**values)
    await harness.bus.publish_durable(subjects.strategy_cancel(harness.venue, sender), request)


async def cancels_done(harness: Harness) -> None:
    """Every stored cancel was handled and acked (the positive signal before checking an absence)."""

    async def idle() -> bool:
        durable = f"execution-{harness.venue}-cancel"
        return await harness.bus.consumer_backlog(subjects.STREAM_CANCELS, durable) == 0

    await eventually(idle, what="cancels handled")


async def test_a_strategy_cancels_its_own_resting_order_never_anothers_nor_all(harness: Harness) -> None:
    service = await harness.start()
    await harness.set_book(BTC, BIDS, ASKS)
    mine, theirs = resting(harness, "90.00"), resting(harness, "91.00", strategy_id="s2")
    for order in (mine, theirs):
        await harness.submit(order)
        await harness.recorder.wait_status(order.client_order_id, OrderStatus.ACCEPTED)
    before = {o: strategy_cancels(o) for o in ("cancelled", "other_strategy", "empty")}
    # s1 names both orders (and claims a halt's epoch): only its own is cancelled, the fence stays.
    await strategy_cancel(harness, "s1", mine.client_order_id, theirs.client_order_id, epoch=9)
    event = await harness.recorder.wait_status(mine.client_order_id, OrderStatus.CANCELLED)
    assert event.filled_size == 0
    assert event.strategy_id == "s1"
    # s2 sends an empty list naming itself in the payload: never a cancel-all.
    await strategy_cancel(harness, "s2", strategy_id="s2")
    await strategy_cancel(harness, "s1", mine.client_order_id)  # already terminal: a no-op
    await cancels_done(harness)
    assert harness.recorder.statuses(theirs.client_order_id) == [OrderStatus.ACCEPTED]
    assert harness.recorder.statuses(mine.client_order_id) == [OrderStatus.ACCEPTED, OrderStatus.CANCELLED]
    assert service.fence.floor == 0
    assert strategy_cancels("other_strategy") == before["other_strategy"] + 1
    assert strategy_cancels("empty") == before["empty"] + 1
    assert strategy_cancels("cancelled") == before["cancelled"] + 2
    await strategy_cancel(harness, "s2", theirs.client_order_id)  # its owner can
    await harness.recorder.wait_status(theirs.client_order_id, OrderStatus.CANCELLED)


async def test_a_cancel_that_overtakes_its_order_answers_it_unplaced(harness: Harness) -> None:
    """The strategy cancels right after sending its intent: the cancel reaches execution before risk's
    approval does. The order is answered `CANCELLED` and never reaches the venue; a cancel that another
    strategy sent first for the same id changes nothing."""
    await harness.start()
    await harness.set_book(BTC, BIDS, ASKS)
    early, guarded = resting(harness, "90.00"), resting(harness, "91.00")
    await strategy_cancel(harness, "s1", early.client_order_id)
    await strategy_cancel(harness, "s2", guarded.client_order_id)
    await cancels_done(harness)
    for order in (early, guarded):
        await harness.submit(order)
    event = await harness.recorder.wait_status(early.client_order_id, OrderStatus.CANCELLED)
    assert event.reason.startswith("CANCELLED_BY_STRATEGY: ")
    assert harness.venue_orders(early.client_order_id) == 0
    await harness.recorder.wait_status(guarded.client_order_id, OrderStatus.ACCEPTED)
    assert harness.venue_orders(guarded.client_order_id) == 1
    assert harness.recorder.statuses(early.client_order_id) == [OrderStatus.CANCELLED]


async def test_limit_ioc_and_fok_behave_as_coinbases(harness: Harness) -> None:
    """IOC takes what crosses at its limit and cancels the rest; FOK fills whole or not at all."""
    await harness.start()
    await harness.set_book(BTC, BIDS, ASKS)
    ioc = make_order(
        harness.venue, order_type=OrderType.LIMIT, time_in_force=TimeInForce.IOC, limit_price=D(100)
    )
    await harness.submit(ioc)
    done = await harness.recorder.wait_status(ioc.client_order_id, OrderStatus.CANCELLED)
    assert done.filled_size == D("0.3")  # 0.3 at 100.00; 101.00 is beyond its limit
    fok = {"order_type": OrderType.LIMIT, "time_in_force": TimeInForce.FOK, "limit_price": D(101)}
    too_big = make_order(harness.venue, size=D(2), **fok)  # 1 left up to 101.00
    await harness.submit(too_big)
    unfilled = await harness.recorder.wait_status(too_big.client_order_id, OrderStatus.CANCELLED)
    assert unfilled.filled_size == 0
    whole = make_order(harness.venue, size=D("0.5"), **fok)
    await harness.submit(whole)
    filled = await harness.recorder.wait_status(whole.client_order_id, OrderStatus.FILLED)
    assert (filled.filled_size, filled.average_price) == (D("0.5"), D(101))
    assert not harness.recorder.fills_of(too_big.client_order_id)


async def test_a_cancel_durable_from_before_strategy_cancels_is_widened(paper: PaperHarness) -> None:
    """An existing durable is bound as it is: the one an older execution created (risk's subject
    only) is recreated with both filters, and a cancel queued for it is still delivered."""
    durable = f"execution-{paper.venue}-cancel"
    await paper.bus.js.add_consumer(
        subjects.STREAM_CANCELS,
        ConsumerConfig(
            durable_name=durable, filter_subject=subjects.cancel(paper.venue), ack_policy=AckPolicy.EXPLICIT
        ),
    )
    await paper.cancel(strategy_id="nobody")  # queued while the old execution was down
    await paper.start()
    info = await paper.bus.js.consumer_info(subjects.STREAM_CANCELS, durable)
    assert sorted(info.config.filter_subjects or []) == sorted(cancel_subjects(paper.venue))
    await cancels_done(paper)
    await paper.set_book(BTC, BIDS, ASKS)
    order = resting(paper, "90.00")
    await paper.submit(order)
    await paper.recorder.wait_status(order.client_order_id, OrderStatus.ACCEPTED)
    await strategy_cancel(paper, "s1", order.client_order_id)
    await paper.recorder.wait_status(order.client_order_id, OrderStatus.CANCELLED)
