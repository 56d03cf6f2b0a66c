"""Normal operation against the simulator: ticks, books and trades flow; status is published."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from services.exchange_sim import ExchangeSim
from services.marketdata.config import MarketDataSettings
from services.marketdata.service import MarketDataService
from services.marketdata.sources import ReplaySource
from shared import subjects
from shared.bus import Bus
from shared.messages import BookUpdate, FeedStatus, Side, Ticker, Trade
from shared.messages import Side as TakerSide
from shared.testing import eventually

from .conftest import StartFeed
from .helpers import Collector, our_book, same_book, sim_book

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("authenticated", [True, False], ids=["jwt", "public"])
async def test_ticks_books_and_trades_flow(
    sim: ExchangeSim, start_feed: StartFeed, bus: Bus, authenticated: bool
) -> None:
    tickers = await Collector[Ticker]().start(bus, subjects.ticker("coinbase", "ETH-USD"), Ticker)
    books = await Collector[BookUpdate]().start(bus, subjects.book("coinbase", "BTC-USD"), BookUpdate)
    trades = await Collector[Trade]().start(bus, subjects.trade("coinbase", "BTC-USD"), Trade)
    feed = await start_feed(authenticated=authenticated, book_depth=5)
    await eventually(lambda: len(tickers) >= 3 and len(books) >= 3, timeout_s=5, what="ticks and books")
    tick = tickers.items[-1]
    assert tick.product_id == "ETH-USD"
    assert 0 < tick.bid < tick.ask
    assert tick.last > 0
    assert tick.receive_time_ns >= tick.exchange_time_ns - 1_000_000_000
    assert books.items[0].is_snapshot
    assert not books.items[-1].is_snapshot
    assert all(len(b.bids) <= 5 and len(b.asks) <= 5 for b in books.items)

    sim.control.push_trade("BTC-USD", Side.BUY, sim.venue.products["BTC-USD"].base_min_size)
    await eventually(lambda: any(t.side is TakerSide.BUY for t in trades.items), what="taker-buy trade")
    sim.control.pause_feed()
    bids, asks = sim_book(sim, "BTC-USD")
    top_bids = sorted(bids.items(), reverse=True)[:5]
    top_asks = sorted(asks.items())[:5]

    def top_matches() -> bool:
        last = books.items[-1]
        return [(lv.price, lv.size) for lv in last.bids] == top_bids and [
            (lv.price, lv.size) for lv in last.asks
        ] == top_asks

    await eventually(top_matches, what="published top-5 equals the simulator's")
    assert feed.health.malformed == 0
    assert feed.health.gaps == 0


async def test_feed_status_is_published_every_interval(start_feed: StartFeed, bus: Bus) -> None:
    statuses = await Collector[FeedStatus]().start(bus, subjects.feed_status("coinbase"), FeedStatus)
    await start_feed(status_interval_s=0.2)
    await eventually(lambda: len([s for s in statuses.items if s.connected]) >= 3, what="periodic status")
    last = statuses.items[-1]
    assert last.products == ("BTC-USD", "ETH-USD")
    assert not last.stale
    assert last.time_ns <= time.time_ns()
    assert last.last_message_ns > 0


async def test_a_recorded_session_replays_into_the_same_book(
    sim: ExchangeSim, start_feed: StartFeed, tmp_path: Path
) -> None:
    recording = tmp_path / "session.jsonl"
    live = await start_feed(record_file=str(recording))
    await eventually(live.books_valid, what="books built")
    sim.control.pause_feed()
    await eventually(lambda: same_book(live, sim, "BTC-USD"), what="live book settled")
    await live.stop()  # flushes the recording

    settings = MarketDataSettings(
        source="replay", replay_file=str(recording), replay_speed=0, replay_loop=False
    )
    replayed = MarketDataService(settings, credentials_from_environment=False)
    await asyncio.wait_for(ReplaySource(settings, replayed).run(), timeout=10)
    assert replayed.health.malformed == 0
    assert our_book(replayed, "BTC-USD") == our_book(live, "BTC-USD") == sim_book(sim, "BTC-USD")
