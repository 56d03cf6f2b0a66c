"""Late fills on the live path: the venue reports an order done before it lists the order's fills.

The simulator's `late_fills` fault keeps a fill out of `GET /orders/historical/fills` for a while
(stamped with its original time) while the order already shows FILLED, or CANCELLED after a partial
fill. A second order filled meanwhile moves the fills cursor past the late fill, so only the overlap
window and the re-reading of done orders can still find it. Afterwards the fills on the bus must equal
the venue's, each published once.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from services.execution.coinbase.adapter import CoinbaseAdapter
from services.execution.coinbase.config import LiveSettings
from shared.messages import OrderEvent, OrderStatus, OrderType, TimeInForce
from shared.testing import eventually
from shared.venue import Fill as VenueFill
from shared.venue import Order as VenueOrder

from .helpers import LiveHarness, make_order

pytestmark = pytest.mark.integration

# (asks, the late order's overrides, its final status, its filled size)
CASES: dict[str, tuple[list[tuple[str, str]], dict[str, Any], OrderStatus, Decimal]] = {
    "filled": ([("100.00", "5")], {}, OrderStatus.FILLED, Decimal("0.5")),
    "cancelled_after_partial": (
        [("100.00", "0.2"), ("101.00", "5")],
        {"order_type": OrderType.LIMIT, "time_in_force": TimeInForce.IOC, "limit_price": Decimal("100.00")},
        OrderStatus.CANCELLED,
        Decimal("0.2"),
    ),
}


def settings(**overrides: object) -> LiveSettings:
    values: dict[str, object] = {
        "request_timeout_s": 2.0,
        "fills_poll_interval_s": 0.1,
        "retry_base_s": 0.05,
        "retry_max_s": 0.2,
        "fills_initial_lookback_s": 60,
        "late_fill_recheck_s": 0.2,
    }
    values.update(overrides)
    return LiveSettings(**values)  # type: ignore[arg-type]


def adapter_of(live: LiveHarness) -> CoinbaseAdapter:
    assert live.service is not None
    adapter = live.service.adapter
    assert isinstance(adapter, CoinbaseAdapter)
    return adapter


def venue_order(live: LiveHarness, coid: str) -> VenueOrder | None:
    return next((o for o in live.sim.venue.orders.values() if o.request.client_order_id == coid), None)


def venue_fills(live: LiveHarness) -> list[VenueFill]:
    return [f for f in live.sim.venue.fills if f.account_id == live.sim.state.account_id]


async def listed_fills(live: LiveHarness, venue_order_id: str) -> list[Any]:
    """What `GET /orders/historical/fills` shows for one order, through the real SDK client."""
    client = adapter_of(live).http.client
    response = await asyncio.to_thread(client.get_fills, order_ids=[venue_order_id])
    return list(response.fills)


async def place_late(live: LiveHarness, case: str, delay_s: float) -> tuple[str, VenueFill]:
    """Place the order whose fill is listed late; returns its client order id and that fill."""
    asks, overrides, status, filled = CASES[case]
    await live.set_book("BTC-USD", [("99.00", "5")], asks)
    live.sim.control.late_fills(delay_s=delay_s, count=1)
    late = make_order(live.venue, **overrides)
    await live.submit(late)

    def done() -> VenueOrder | None:
        order = venue_order(live, late.client_order_id)
        return order if order is not None and order.status.value == status.name else None

    order = await eventually(done, what="late order done at the venue")
    assert order is not None
    assert order.filled_size == filled
    assert await listed_fills(live, order.order_id) == []  # done, yet its fill is not listed
    (fill,) = [f for f in venue_fills(live) if f.order_id == order.order_id]
    return late.client_order_id, fill


async def fill_another_order(live: LiveHarness, late_fill: VenueFill) -> str:
    """A second order whose fill is listed at once: the cursor moves past the late fill's time."""
    other = make_order(live.venue, size=Decimal("0.1"))
    await live.submit(other)
    await live.recorder.wait_status(other.client_order_id, OrderStatus.FILLED)
    poller = adapter_of(live).poller
    assert poller is not None
    await eventually(lambda: poller.cursor.sequence_ns > late_fill.time_ns, what="cursor past the late fill")
    return other.client_order_id


def assert_bus_equals_venue(live: LiveHarness) -> None:
    venue = sorted((f.trade_id, f.size, f.price, f.commission) for f in venue_fills(live))
    bus = sorted((f.trade_id, f.size, f.price, f.fee) for f in live.recorder.fills)
    assert bus == venue
    assert live.service is not None
    assert live.service.fills_published == len(venue)  # each handed to the bus exactly once


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_fill_listed_late_is_published_once_and_the_bus_equals_the_venue(
    live: LiveHarness, case: str
) -> None:
    await live.start(live=settings())
    coid, late_fill = await place_late(live, case, delay_s=2.5)
    await fill_another_order(live, late_fill)
    tracker = adapter_of(live).tracker
    # Still unlisted: the order is held open, never reported done short of its fills.
    assert live.sim.state.now_ns() < late_fill.time_ns + int(2.5e9)
    assert coid in tracker.awaiting_fills
    assert not any(s.is_terminal for s in live.recorder.statuses(coid))
    _, _, status, filled = CASES[case]
    done = await live.recorder.wait_status(coid, status, timeout_s=10)
    assert done.filled_size == filled
    assert [f.trade_id for f in live.recorder.fills_of(coid)] == [late_fill.trade_id]
    assert coid not in tracker.awaiting_fills
    poller = adapter_of(live).poller
    assert poller is not None
    polls = poller.polls
    await eventually(lambda: poller.polls >= polls + 3, what="polls re-reading the overlap window")
    assert_bus_equals_venue(live)


async def test_a_fill_listed_after_the_wait_is_still_published(live: LiveHarness) -> None:
    await live.start(live=settings(late_fill_wait_s=0.3))
    coid, late_fill = await place_late(live, "cancelled_after_partial", delay_s=3.0)
    # The wait runs out first: the order is reported done with no fills (reconciliation's to settle).
    gave_up = await live.recorder.wait_status(coid, OrderStatus.CANCELLED, timeout_s=5)
    assert gave_up.filled_size == Decimal(0)
    await fill_another_order(live, late_fill)
    assert live.sim.state.now_ns() < late_fill.time_ns + int(3e9)  # still unlisted
    # Only the poller's overlap window can find it now; being done does not drop it.
    await eventually(lambda: live.recorder.fills_of(coid), timeout_s=10, what="late fill published")

    def with_late_fill() -> OrderEvent | None:
        event = live.recorder.last(coid)
        return event if event is not None and event.filled_size == Decimal("0.2") else None

    last = await eventually(with_late_fill, what="reported done again, with the late fill")
    assert last is not None
    assert last.status is OrderStatus.CANCELLED
    assert_bus_equals_venue(live)
