"""The live adapter against the simulator with injected faults."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from services.execution.coinbase.adapter import CoinbaseAdapter
from services.execution.coinbase.config import LiveSettings
from services.execution.coinbase.fills import FillPoller, FillsCursor
from shared import subjects
from shared.messages import OrderStatus, OrderType, Side, TimeInForce
from shared.testing import eventually

from .helpers import LiveHarness, make_order

pytestmark = pytest.mark.integration
BOOK = ([("99.00", "5")], [("100.00", "5")])
ORDERS_PATH = "/api/v3/brokerage/orders"


def fast(**overrides: object) -> LiveSettings:
    values: dict[str, object] = {
        "request_timeout_s": 0.5,
        "fills_poll_interval_s": 0.1,
        "retry_base_s": 0.05,
        "retry_max_s": 0.1,
        "fills_initial_lookback_s": 60,
    }
    values.update(overrides)
    return LiveSettings(**values)  # type: ignore[arg-type]


async def pending_zero(live: LiveHarness) -> bool:
    info = await live.bus.js.consumer_info(subjects.STREAM_APPROVED, f"execution-{live.venue}")
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


def adapter_of(live: LiveHarness) -> CoinbaseAdapter:
    assert live.service is not None
    adapter = live.service.adapter
    assert isinstance(adapter, CoinbaseAdapter)
    return adapter


async def place_and_wait(live: LiveHarness, status: OrderStatus, **overrides: object) -> str:
    order = make_order(live.venue, **overrides)
    await live.submit(order)
    await live.recorder.wait_status(order.client_order_id, status)
    return order.client_order_id


@pytest.mark.parametrize("duplicate_mode", ["return", "reject"])
async def test_timeout_after_accept_leads_to_no_duplicate(live: LiveHarness, duplicate_mode: str) -> None:
    await live.start(live=fast())
    await live.set_book("BTC-USD", *BOOK)
    live.sim.control.set_duplicate_mode(duplicate_mode)
    live.sim.control.fail_after_accept("timeout", delay_s=1.0)
    coid = await place_and_wait(live, OrderStatus.FILLED)
    # The timed-out attempt and one retry with the same id (the fill poller may report first).
    await eventually(
        lambda: adapter_of(live).submissions == 2 and live.service and live.service.events_published >= 2
    )
    await eventually(lambda: pending_zero(live))
    assert live.venue_orders(coid) == 1
    assert live.recorder.statuses(coid) == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert sum(f.size for f in live.recorder.fills_of(coid)) == Decimal("0.5")


@pytest.mark.parametrize("where", ["before_accept", "after_accept"])
async def test_5xx_is_retried_with_the_same_client_order_id(live: LiveHarness, where: str) -> None:
    await live.start(live=fast())
    await live.set_book("BTC-USD", *BOOK)
    if where == "before_accept":
        live.sim.control.fail_rest(503, body="html", path=ORDERS_PATH)
    else:
        live.sim.control.fail_after_accept("500")
    coid = await place_and_wait(live, OrderStatus.FILLED)
    await eventually(lambda: pending_zero(live), what="handler finished")  # WS/poller may report first
    assert adapter_of(live).submissions == 2
    assert live.venue_orders(coid) == 1
    assert OrderStatus.UNKNOWN not in live.recorder.statuses(coid)


async def test_429_backs_off_and_then_places(live: LiveHarness) -> None:
    await live.start(live=fast())
    await live.set_book("BTC-USD", *BOOK)
    live.sim.control.fail_rest(429, count=2, path=ORDERS_PATH)
    coid = await place_and_wait(live, OrderStatus.FILLED)
    await eventually(lambda: pending_zero(live), what="handler finished")
    # Both faults match every call under /orders: the adapter's own polls of its open orders may take
    # one of them, so the placement met one or two 429s; either way it retried and placed once.
    assert adapter_of(live).submissions in (2, 3)
    assert live.venue_orders(coid) == 1


async def test_still_ambiguous_outcome_is_reported_unknown(live: LiveHarness) -> None:
    await live.start(live=fast(place_attempts=2, read_attempts=2))
    await live.set_book("BTC-USD", *BOOK)
    live.sim.control.fail_after_accept("500")
    live.sim.control.fail_rest(503, count=100, path=ORDERS_PATH)  # retry and lookups all fail
    order = make_order(live.venue)
    await live.submit(order)
    # The first attempt is refused before the venue sees it, so nothing exists: unknown is honest.
    event = await live.recorder.wait_status(order.client_order_id, OrderStatus.UNKNOWN)
    assert "reconcile" in event.reason or event.reason


@pytest.mark.parametrize(
    "reason",
    [
        "INSUFFICIENT_FUND",
        "INVALID_LIMIT_PRICE_POST_ONLY",
        "ORDER_ENTRY_DISABLED",
        "PRODUCT_TRADING_HALTED",
        "INVALID_FCM_TRADING_SESSION",
        "BREACHED_RISK_LIMIT",
        "UNSUPPORTED_ORDER_CONFIGURATION",
    ],
)
async def test_each_reject_reason_is_mapped(live: LiveHarness, reason: str) -> None:
    await live.start(live=fast())
    live.sim.control.reject_orders(reason)
    order = make_order(live.venue)
    await live.submit(order)
    event = await live.recorder.wait_status(order.client_order_id, OrderStatus.REJECTED)
    assert event.reason == reason
    assert adapter_of(live).submissions == 1  # a definitive reject is never retried


async def test_fills_cursor_survives_a_restart(live: LiveHarness) -> None:
    await live.start(live=fast())
    await live.set_book("BTC-USD", *BOOK)
    first = await place_and_wait(live, OrderStatus.FILLED)
    adapter = adapter_of(live)
    assert adapter.poller is not None
    await eventually(
        lambda: adapter.poller is not None and adapter.poller.cursor.trade_ids, what="cursor advanced"
    )
    saved = adapter.poller.cursor
    resting = await place_and_wait(
        live,
        OrderStatus.ACCEPTED,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        size=Decimal("0.2"),
        limit_price=Decimal("99.50"),
    )
    await live.stop()
    await live.trade("BTC-USD", Side.SELL, "0.2", "99.50")  # fills while down
    kv = await live.bus.kv(subjects.KV_EXEC_STATE, FillsCursor)
    stored = await kv.get(f"{live.venue}.fills-cursor")
    assert stored is not None
    assert stored.value.sequence_ns >= saved.sequence_ns
    service = await live.start(live=fast())
    await live.recorder.wait_status(resting, OrderStatus.FILLED)
    restarted = adapter_of(live)
    assert restarted.poller is not None
    await eventually(lambda: restarted.poller is not None and restarted.poller.polls >= 2)
    # Only the fill that happened while down was published by the new instance; none twice.
    assert service.fills_published == 1
    fills = live.recorder.fills
    assert len({f.trade_id for f in fills}) == len(fills)
    assert [f.liquidity.value for f in live.recorder.fills_of(resting)] == ["MAKER"]
    assert live.recorder.fills_of(first)


async def test_poller_resumes_from_the_stored_cursor(live: LiveHarness) -> None:
    await live.start(live=fast())
    await live.set_book("BTC-USD", *BOOK)
    await place_and_wait(live, OrderStatus.FILLED)
    adapter = adapter_of(live)
    kv = await live.bus.kv(subjects.KV_EXEC_STATE, FillsCursor)
    await eventually(lambda: adapter.poller is not None and adapter.poller.cursor.trade_ids)
    await live.stop()
    handled: list[int] = []

    async def count(fills: list[object]) -> None:
        handled.append(len(fills))

    poller = FillPoller(adapter.http, kv, live.venue, fast(), count)  # type: ignore[arg-type]
    loaded = await poller.load()
    assert loaded.trade_ids
    assert await poller.poll_once() == 0  # everything before the mark was handled already
    # A fill placed directly at the venue (not through us) still moves the cursor forward.
    await live.set_book("ETH-USD", [("9.00", "5")], [("10.00", "5")])
    client = adapter.http.client
    await asyncio.to_thread(
        client.market_order_buy, client_order_id="manual-1", product_id="ETH-USD", base_size="1"
    )
    assert await poller.poll_once() == 1
    assert handled == [1]
    assert (await poller.load()).sequence_ns > loaded.sequence_ns


async def test_user_channel_triggers_a_sync_long_before_the_next_fills_poll(live: LiveHarness) -> None:
    await live.start(live=fast(fills_poll_interval_s=60))
    await live.set_book("BTC-USD", *BOOK)
    adapter = adapter_of(live)
    await eventually(lambda: adapter.ws is not None and adapter.ws.messages > 0, what="user channel up")
    resting = await place_and_wait(
        live,
        OrderStatus.ACCEPTED,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        size=Decimal("0.3"),
        limit_price=Decimal("99.50"),
    )
    await live.trade("BTC-USD", Side.SELL, "0.1", "99.50")
    partial = await live.recorder.wait_status(resting, OrderStatus.PARTIALLY_FILLED, timeout_s=3)
    assert partial.filled_size == Decimal("0.1")
    await live.trade("BTC-USD", Side.SELL, "0.2", "99.50")
    await live.recorder.wait_status(resting, OrderStatus.FILLED, timeout_s=3)
    assert [f.size for f in live.recorder.fills_of(resting)] == [Decimal("0.1"), Decimal("0.2")]
    assert adapter.poller is not None
    assert adapter.poller.polls <= 1  # only the poll at start: the WS trigger did the work


async def test_user_channel_watchdog_reconnects_when_heartbeats_stop(live: LiveHarness) -> None:
    await live.start(live=fast(ws_heartbeat_timeout_s=0.5, ws_reconnect_base_s=0.05, ws_reconnect_max_s=0.1))
    adapter = adapter_of(live)
    await eventually(lambda: adapter.ws is not None and adapter.ws.connects == 1 and adapter.ws.messages > 0)
    live.sim.control.pause_heartbeats(True)
    await eventually(lambda: adapter.ws is not None and adapter.ws.connects >= 2, timeout_s=5)
    assert adapter.ws is not None
    assert adapter.ws.last_reason.startswith("watchdog")
    live.sim.control.pause_heartbeats(False)


async def test_cancel_that_races_a_fill_reports_the_fill(live: LiveHarness) -> None:
    await live.start(live=fast())
    await live.set_book("BTC-USD", *BOOK)
    resting = await place_and_wait(
        live,
        OrderStatus.ACCEPTED,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        size=Decimal("0.1"),
        limit_price=Decimal("99.50"),
    )
    live.sim.control.cancel_race()  # the venue says "cancelled" but the order fills first
    await live.cancel(resting)
    done = await live.recorder.wait_status(resting, OrderStatus.FILLED)
    assert done.filled_size == Decimal("0.1")
    assert OrderStatus.CANCELLED not in live.recorder.statuses(resting)


async def test_open_orders_are_re_read_without_any_trigger(live: LiveHarness) -> None:
    await live.start(live=fast(fills_poll_interval_s=60, ws_user=False, open_orders_sync_s=0.2))
    await live.set_book("BTC-USD", *BOOK)
    resting = await place_and_wait(
        live,
        OrderStatus.ACCEPTED,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        size=Decimal("0.1"),
        limit_price=Decimal("90.00"),
    )
    record = adapter_of(live).orders.get(resting)
    assert record is not None
    live.sim.venue.cancel(record.venue_order_id, live.sim.state.now_ns())  # cancelled in the venue's UI
    await live.recorder.wait_status(resting, OrderStatus.CANCELLED, timeout_s=3)


async def test_only_429s_mean_not_placed_so_the_order_is_redelivered_not_unknown(live: LiveHarness) -> None:
    await live.start(live=fast(place_attempts=2))
    await live.set_book("BTC-USD", *BOOK)
    live.sim.control.fail_rest(429, count=4, path=ORDERS_PATH)
    coid = await place_and_wait(live, OrderStatus.FILLED)
    assert OrderStatus.UNKNOWN not in live.recorder.statuses(coid)
    assert live.venue_orders(coid) == 1
