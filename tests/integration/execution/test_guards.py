"""The two guards between an approval and the venue: the halt's epoch fence and the placement deadline.

A real execution service (paper adapter) on a real nats-server. Fence tests run on a server of
their own (`own_paper`): they write risk's global epoch, which would fence off other tests' orders.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from services.execution.config import ExecutionSettings, PaperSettings
from services.execution.service import ExecutionService
from shared import subjects
from shared.bus import Bus, DeliveryInfo
from shared.config import NatsSettings, VenueSettings
from shared.messages import (
    BookLevel,
    BookUpdate,
    CancelRequest,
    FeeRates,
    Order,
    OrderStatus,
    OrderType,
    ProductInfo,
    RiskState,
    TimeInForce,
)
from shared.natsserver import NatsServer
from shared.runtime import ServiceContext
from shared.testing import eventually

from .helpers import BALANCES, PaperHarness, Recorder, make_order

pytestmark = pytest.mark.integration
BIDS, ASKS = [("99.00", "5")], [("100.00", "5")]
SECOND_NS = 1_000_000_000


async def write_epoch(bus: Bus, epoch: int) -> None:
    """What risk writes when a halt starts epoch `epoch`."""
    kv = await bus.kv(subjects.KV_RISK_STATE, RiskState)
    await kv.put("state", RiskState(kill_switch=True, epoch=epoch, updated_ns=time.time_ns()))


async def halt_cancel_all(harness: PaperHarness, epoch: int) -> None:
    """The cancel-all a halt sends, carrying the epoch it started."""
    request = CancelRequest(venue=harness.venue, reason="halt", requested_ns=time.time_ns(), epoch=epoch)
    await harness.bus.publish_durable(subjects.cancel(harness.venue), request)


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("execution_orders_refused_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize("halt", ["risk_state", "cancel_request"])
async def test_an_approval_queued_before_a_halt_is_cancelled_never_placed(
    own_paper: PaperHarness, halt: str
) -> None:
    """Approved in epoch 1, still queued while execution was down, then the halt of epoch 2: when
    execution comes back the order is answered CANCELLED "HALTED", with no fill."""
    await write_epoch(own_paper.bus, 1)
    before = refused("HALTED")
    stale = make_order(own_paper.venue, epoch=1)
    await own_paper.submit(stale)
    if halt == "risk_state":
        await write_epoch(own_paper.bus, 2)
    else:
        await halt_cancel_all(own_paper, 2)

    service = await own_paper.start()
    await own_paper.set_book("BTC-USD", BIDS, ASKS)
    event = await own_paper.recorder.wait_status(stale.client_order_id, OrderStatus.CANCELLED)
    assert event.reason == "HALTED: approved in epoch 1 before the halt of epoch 2"
    assert event.filled_size == 0
    assert event.venue == own_paper.venue
    assert service.fence.floor == 2
    assert own_paper.submissions() == 0
    assert own_paper.venue_orders(stale.client_order_id) == 0
    assert refused("HALTED") == before + 1

    current = make_order(own_paper.venue, epoch=2)  # approved under the halt's rules: it passes
    await own_paper.submit(current)
    await own_paper.recorder.wait_status(current.client_order_id, OrderStatus.FILLED)
    await eventually(lambda: own_paper.recorder.fills_of(current.client_order_id), what="its fill")
    assert own_paper.recorder.statuses(stale.client_order_id) == [OrderStatus.CANCELLED]
    assert not own_paper.recorder.fills_of(stale.client_order_id)


async def test_queued_cancels_run_before_queued_orders(own_paper: PaperHarness) -> None:
    """However long the halt's queued cancel-all takes to be handled, no queued order is looked at
    before it: the floor it carries applies to every order queued behind it."""
    stale = make_order(own_paper.venue, epoch=0)
    await own_paper.submit(stale)
    await halt_cancel_all(own_paper, 1)
    settings = own_paper.settings()
    service = ExecutionService(settings, own_paper.adapter(settings))
    on_cancel = service.on_cancel

    async def slow_cancel(request: CancelRequest, info: DeliveryInfo) -> None:
        await asyncio.sleep(0.5)
        await on_cancel(request, info)

    service.on_cancel = slow_cancel  # type: ignore[method-assign]
    await service.start(ServiceContext("execution", settings, own_paper.bus))
    own_paper.service = service
    await own_paper.recorder.start(own_paper.bus, own_paper.venue)
    await own_paper.set_book("BTC-USD", BIDS, ASKS)
    event = await own_paper.recorder.wait_status(stale.client_order_id, OrderStatus.CANCELLED)
    assert event.reason == "HALTED: approved in epoch 0 before the halt of epoch 1"
    assert own_paper.submissions() == 0


async def test_a_halt_seen_while_running_fences_older_approvals(own_paper: PaperHarness) -> None:
    """The KV watch keeps the floor current: a halt written while execution runs applies at once."""
    service = await own_paper.start()
    await own_paper.set_book("BTC-USD", BIDS, ASKS)
    await write_epoch(own_paper.bus, 3)
    await eventually(lambda: service.fence.floor == 3, what="the watch raised the floor")
    stale = make_order(own_paper.venue, epoch=2)
    await own_paper.submit(stale)
    event = await own_paper.recorder.wait_status(stale.client_order_id, OrderStatus.CANCELLED)
    assert event.reason.startswith("HALTED: approved in epoch 2 before the halt of epoch 3")
    current = make_order(own_paper.venue, epoch=3)
    await own_paper.submit(current)
    await own_paper.recorder.wait_status(current.client_order_id, OrderStatus.FILLED)
    assert own_paper.submissions() == 1
    await write_epoch(own_paper.bus, 1)  # an older state never lowers the floor
    await halt_cancel_all(own_paper, 4)
    await eventually(lambda: service.fence.floor == 4, what="the cancel-all raised the floor")


async def test_an_order_landing_after_the_halts_cancel_all_is_cancelled_by_execution(
    own_paper: PaperHarness,
) -> None:
    """The order is in hand when the halt comes; its cancel-all runs before the order rests at the
    venue, so it finds nothing. Execution cancels the order itself once placement returns."""
    service = await own_paper.start()
    await own_paper.set_book("BTC-USD", BIDS, ASKS)
    adapter = service.adapter
    place = adapter.place
    in_hand, release = asyncio.Event(), asyncio.Event()

    async def held(order: Order) -> OrderStatus:
        in_hand.set()
        await release.wait()
        return await place(order)

    adapter.place = held  # type: ignore[method-assign]
    resting = make_order(
        own_paper.venue,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=Decimal(90),
        size=Decimal("0.1"),
    )
    await own_paper.submit(resting)
    await asyncio.wait_for(in_hand.wait(), 10)
    await halt_cancel_all(own_paper, 1)

    async def cancel_all_done() -> bool:
        info = await own_paper.bus.js.consumer_info(
            subjects.STREAM_CANCELS, f"execution-{own_paper.venue}-cancel"
        )
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await eventually(lambda: service.fence.floor == 1, what="floor raised by the cancel-all")
    await eventually(cancel_all_done, what="the cancel-all ran (nothing rested yet)")
    release.set()
    await own_paper.recorder.wait_status(resting.client_order_id, OrderStatus.CANCELLED)
    assert own_paper.recorder.statuses(resting.client_order_id) == [
        OrderStatus.ACCEPTED,
        OrderStatus.CANCELLED,
    ]
    assert not own_paper.recorder.fills_of(resting.client_order_id)


async def test_an_approval_past_its_deadline_expires_never_placed(paper: PaperHarness) -> None:
    """Queued while execution was down until its deadline (plus the allowed clock skew) passed."""
    before = refused("DEADLINE_PASSED")
    late = make_order(paper.venue, expires_ns=time.time_ns() - 5 * SECOND_NS)
    await paper.submit(late)
    await paper.start()
    await paper.set_book("BTC-USD", BIDS, ASKS)
    event = await paper.recorder.wait_status(late.client_order_id, OrderStatus.EXPIRED)
    assert event.reason.startswith("DEADLINE_PASSED: ")
    assert event.filled_size == 0
    assert paper.submissions() == 0
    assert paper.venue_orders(late.client_order_id) == 0
    assert refused("DEADLINE_PASSED") == before + 1

    skewed = make_order(paper.venue, expires_ns=time.time_ns() - SECOND_NS // 2)  # within 1 s skew
    timely = make_order(paper.venue, expires_ns=time.time_ns() + 30 * SECOND_NS)
    for order in (skewed, timely):
        await paper.submit(order)
        await paper.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    assert paper.recorder.statuses(late.client_order_id) == [OrderStatus.EXPIRED]
    assert not paper.recorder.fills_of(late.client_order_id)


async def test_paper_execution_serves_coinbase_paper_and_fills_on_coinbase_data(
    own_bus: Bus, private_nats: NatsServer
) -> None:
    """Configured with the market `coinbase` in paper mode, the service (its adapter built by the
    factory) takes `orders.approved.coinbase-paper`, prices on `md.book.coinbase.*` and reports
    everything under `coinbase-paper`; its heartbeat details say which route it serves."""
    settings = ExecutionSettings(
        nats=NatsSettings(url=private_nats.url),
        mode="paper",
        venue=VenueSettings(name="coinbase"),
        redelivery_delay_s=0.2,
        paper=PaperSettings(initial_balances=BALANCES),
    )
    service = ExecutionService(settings)
    ctx = ServiceContext("execution", settings, own_bus)
    await service.start(ctx)
    try:
        assert service.venue == service.adapter.venue == "coinbase-paper"
        _, body = ctx.readiness()
        detail = body["details"]["execution"]
        assert {k: detail[k] for k in ("mode", "venue", "market", "fatal")} == {
            "mode": "paper",
            "venue": "coinbase-paper",
            "market": "coinbase",
            "fatal": "",
        }
        products = await own_bus.kv(subjects.KV_PRODUCTS, ProductInfo)
        stored = await products.get(subjects.product_key("coinbase-paper", "BTC-USD"))
        assert stored is not None
        assert stored.value.venue == "coinbase-paper"
        fees = await own_bus.kv(subjects.KV_FEE_RATES, FeeRates)
        tier = await fees.get("coinbase-paper")
        assert tier is not None
        assert tier.value.venue == "coinbase-paper"

        recorder = await Recorder().start(own_bus, "coinbase-paper")
        now = time.time_ns()
        book = BookUpdate(
            venue="coinbase",
            product_id="BTC-USD",
            bids=(BookLevel(price=Decimal(99), size=Decimal(1)),),
            asks=(BookLevel(price=Decimal(100), size=Decimal(1)),),
            is_snapshot=True,
            exchange_time_ns=now,
            receive_time_ns=now,
            sequence=1,
        )
        await own_bus.publish(subjects.book("coinbase", "BTC-USD"), book, traced=False)
        order = make_order("coinbase-paper", size=Decimal("0.01"))
        await own_bus.publish_durable(
            subjects.approved("coinbase-paper"), order, msg_id=order.client_order_id
        )
        done = await recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
        assert done.venue == "coinbase-paper"
        await eventually(lambda: recorder.fills_of(order.client_order_id), what="the fill")
        (fill,) = recorder.fills_of(order.client_order_id)
        assert (fill.venue, fill.price, fill.fee) == ("coinbase-paper", Decimal(100), Decimal("0.009"))
    finally:
        await service.stop()
