"""The feed against the simulator's injected faults: it never stalls and its books stay right."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from services.exchange_sim import ExchangeSim
from shared import subjects
from shared.bus import Bus
from shared.messages import FeedStatus, Ticker
from shared.testing import eventually

from .conftest import StartFeed
from .helpers import Collector, same_book, sim_book

pytestmark = pytest.mark.integration


async def _flowing(bus: Bus) -> Collector[Ticker]:
    return await Collector[Ticker]().start(bus, subjects.ticker("coinbase", "BTC-USD"), Ticker)


async def _more_ticks(tickers: Collector[Ticker], timeout_s: float = 4.0) -> None:
    seen = len(tickers)
    await eventually(lambda: len(tickers) > seen + 2, timeout_s=timeout_s, what="ticks keep flowing")


async def test_sequence_gap_resnapshots_and_the_book_equals_the_simulators(
    sim: ExchangeSim, start_feed: StartFeed
) -> None:
    feed = await start_feed()
    await eventually(feed.books_valid, what="books built from snapshots")
    sim.control.pause_feed()
    await eventually(lambda: same_book(feed, sim, "BTC-USD"), what="book converged on the simulator's")
    # Change the simulator's book without publishing it: only a fresh snapshot can repair ours.
    bids = [(Decimal("50000.00"), Decimal("1.5")), (Decimal("49999.50"), Decimal("2"))]
    asks = [(Decimal("50001.00"), Decimal("0.7")), (Decimal("50002.25"), Decimal("3"))]
    sim.venue.set_liquidity("BTC-USD", bids, asks, time.time_ns())
    sim.venue.drain_events()
    assert not same_book(feed, sim, "BTC-USD")

    sim.control.ws_gap(3)
    await eventually(lambda: feed.health.gaps == 1, timeout_s=3, what="gap detected")
    await eventually(lambda: same_book(feed, sim, "BTC-USD"), timeout_s=5, what="resnapshotted book")
    assert sim_book(sim, "BTC-USD") == (dict(bids), dict(asks))
    assert feed.source is not None
    assert feed.health.reconnects == 0


async def test_out_of_order_messages_are_ignored_and_the_book_recovers(
    sim: ExchangeSim, start_feed: StartFeed
) -> None:
    feed = await start_feed()
    await eventually(feed.books_valid, what="books built")
    sim.control.ws_out_of_order()
    await eventually(lambda: feed.processor.sequence.stale >= 1, timeout_s=3, what="late message seen")
    sim.control.pause_feed()
    await eventually(lambda: same_book(feed, sim, "BTC-USD"), timeout_s=5, what="book recovered")


@pytest.mark.parametrize("code", [1000, 1001, 1011])
async def test_a_close_of_any_kind_leads_to_a_reconnect(
    sim: ExchangeSim, start_feed: StartFeed, bus: Bus, code: int
) -> None:
    feed = await start_feed()
    tickers = await _flowing(bus)
    await eventually(feed.books_valid, what="books built")
    sim.control.ws_close(code)
    await eventually(lambda: feed.health.reconnects == 1, timeout_s=3, what=f"reconnect after {code}")
    await eventually(lambda: feed.health.connected and feed.books_valid(), timeout_s=3, what="books rebuilt")
    await _more_ticks(tickers)


async def test_a_heartbeat_stall_marks_the_feed_stale_and_reconnects(
    sim: ExchangeSim, start_feed: StartFeed, bus: Bus
) -> None:
    statuses = await Collector[FeedStatus]().start(bus, subjects.feed_status("coinbase"), FeedStatus)
    feed = await start_feed()
    await eventually(lambda: feed.health.ready(time.time_ns()), timeout_s=3, what="ready")
    sim.control.pause_heartbeats()  # ticks keep flowing: only the heartbeat watchdog can notice
    await eventually(lambda: not feed.health.ready(time.time_ns()), timeout_s=3, what="stale")
    await eventually(lambda: any(s.stale and s.connected for s in statuses.items), what="stale status")
    await eventually(lambda: feed.health.reconnects >= 1, timeout_s=4, what="watchdog reconnect")
    sim.control.pause_heartbeats(False)
    await eventually(lambda: feed.health.ready(time.time_ns()), timeout_s=4, what="ready again")
    await eventually(
        lambda: statuses.items[-1].connected and not statuses.items[-1].stale, what="healthy status"
    )


async def test_malformed_json_is_counted_and_skipped(
    sim: ExchangeSim, start_feed: StartFeed, bus: Bus
) -> None:
    feed = await start_feed()
    tickers = await _flowing(bus)
    await eventually(feed.books_valid, what="books built")
    sim.control.ws_malformed()
    sim.control.ws_malformed()
    await eventually(lambda: feed.health.malformed == 2, timeout_s=3, what="malformed counted")
    await _more_ticks(tickers)
    assert feed.health.reconnects == 0
    assert feed.health.connected


async def test_a_multi_megabyte_snapshot_is_accepted(sim: ExchangeSim, start_feed: StartFeed) -> None:
    feed = await start_feed()
    await eventually(feed.books_valid, what="books built")
    sim.control.oversize_l2(5_000_000)
    sim.control.ws_gap(1)  # the resync asks for a new snapshot, which comes padded to about 5 MB
    await eventually(lambda: len(feed.processor.books["BTC-USD"].bids) > 20_000, timeout_s=8, what="big book")
    assert feed.health.reconnects == 0
