"""The replay and synthetic sources through the real processor (no network, no bus)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from decimal import Decimal
from pathlib import Path

from services.marketdata.config import MarketDataSettings
from services.marketdata.health import FeedHealth
from services.marketdata.processor import FeedProcessor
from services.marketdata.sources import ReplaySource, SyntheticSource
from services.marketdata.synthetic import SyntheticCandles, SyntheticMarket
from shared.messages import BookUpdate, CandleRequest, Ticker, Trade
from shared.testing import eventually

from .helpers import frame, raw


class RecordingSink:
    """A `FrameSink` that runs the processor and keeps what it would publish."""

    def __init__(self, products: tuple[str, ...]) -> None:
        self.health = FeedHealth("coinbase", products, 3_000_000_000, require_heartbeats=False)
        self.processor = FeedProcessor("coinbase", products, 10, self.health)
        self.published: list[object] = []
        self.connections = 0
        self.disconnects: list[str] = []

    def on_connected(self) -> None:
        self.connections += 1
        self.health.on_connected(0)
        self.processor.on_connected()

    def on_disconnected(self, reason: str) -> None:
        self.disconnects.append(reason)
        self.health.on_disconnected(reason)

    async def on_frame(self, data: bytes | str, receive_ns: int) -> None:
        self.published += [message for _, message in self.processor.process(data, receive_ns)]

    def take_resync(self) -> bool:
        return self.processor.take_resync()

    def books_valid(self) -> bool:
        return self.processor.books_valid()

    def liveness_ns(self) -> int:
        return self.health.liveness_ns()


def _recording(tmp_path: Path) -> Path:
    path = tmp_path / "recorded.jsonl"
    lines = [
        raw("l2_snapshot"),
        frame("ticker_snapshot", sequence_num=1, timestamp="2023-02-09T20:32:50.814964855Z"),
        b"not json at all",
        frame("l2_update", sequence_num=2),
        b"",
    ]
    path.write_bytes(b"\n".join(line.replace(b"\n", b"") for line in lines))
    return path


async def test_replay_runs_recorded_frames_through_the_same_processor(tmp_path: Path) -> None:
    settings = MarketDataSettings(source="replay", replay_file=str(_recording(tmp_path)), replay_loop=False)
    sink = RecordingSink(settings.product_ids)
    await asyncio.wait_for(ReplaySource(settings, sink).run(), timeout=5)
    kinds = [type(m).__name__ for m in sink.published]
    assert kinds == ["BookUpdate", "Ticker", "BookUpdate"]
    assert sink.health.malformed == 1
    assert sink.disconnects == ["replay finished"]
    assert sink.processor.books["BTC-USD"].best_bid() == (Decimal("21921.80"), Decimal("2"))


async def test_replay_loops_as_new_connections_and_reports_an_unreadable_file(tmp_path: Path) -> None:
    settings = MarketDataSettings(source="replay", replay_file=str(_recording(tmp_path)), replay_speed=0)
    sink = RecordingSink(settings.product_ids)
    task = asyncio.create_task(ReplaySource(settings, sink).run())
    await eventually(lambda: sink.connections >= 3, what="several passes")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert sink.health.gaps == 0  # every pass restarts the sequence
    missing = MarketDataSettings(source="replay", replay_file=str(tmp_path / "nope.jsonl"))
    await asyncio.wait_for(ReplaySource(missing, RecordingSink(("BTC-USD",))).run(), timeout=5)


async def test_synthetic_source_publishes_a_consistent_market() -> None:
    settings = MarketDataSettings(source="synthetic", products="BTC-USD,ETH-USD", synthetic_interval_s=0.01)
    sink = RecordingSink(settings.product_ids)
    task = asyncio.create_task(SyntheticSource(settings, sink).run())
    await eventually(lambda: sum(isinstance(m, Trade) for m in sink.published) >= 10, what="trades")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert sink.health.malformed == 0
    assert sink.health.gaps == 0
    assert sink.health.last_heartbeat_ns > 0
    tickers = [m for m in sink.published if isinstance(m, Ticker)]
    assert all(t.bid < t.ask for t in tickers)
    assert {t.product_id for t in tickers} == {"BTC-USD", "ETH-USD"}
    books = [m for m in sink.published if isinstance(m, BookUpdate)]
    assert all(b.bids[0].price < b.asks[0].price for b in books)


def test_the_synthetic_market_is_seeded_and_its_diffs_rebuild_its_book() -> None:
    one = SyntheticMarket(("BTC-USD",), 3, Decimal(100))
    two = SyntheticMarket(("BTC-USD",), 3, Decimal(100))
    frames_one = one.connect(0) + [f for t in range(1, 20) for f in one.step(t)]
    frames_two = two.connect(0) + [f for t in range(1, 20) for f in two.step(t)]
    assert frames_one == frames_two
    sink = RecordingSink(("BTC-USD",))
    sink.on_connected()
    for data in frames_one:
        sink.processor.process(data, 1)
    ours = sink.processor.books["BTC-USD"]
    theirs = one.books["BTC-USD"]
    assert dict(ours.bids.sizes) == {p: q for (s, p), q in theirs.items() if s == "bid"}
    assert dict(ours.asks.sizes) == {p: q for (s, p), q in theirs.items() if s == "offer"}


async def test_synthetic_candles_are_deterministic_aligned_and_consistent() -> None:
    candles = SyntheticCandles("coinbase", 5, Decimal(100), 1000)
    request = CandleRequest(venue="coinbase", product_id="ETH-USD", start=90, end=60 * 50)
    reply = await candles.handle(request)
    again = await candles.handle(request)
    assert reply == again
    assert reply.error == ""
    assert [c.start for c in reply.candles] == list(range(120, 3000, 60))
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in reply.candles)
    assert all(a.close == b.open for a, b in itertools.pairwise(reply.candles))
    other = await candles.handle(CandleRequest(venue="coinbase", product_id="BTC-USD", start=90, end=3000))
    assert other.candles[0].close != reply.candles[0].close
    refused = await candles.handle(
        CandleRequest(venue="coinbase", product_id="ETH-USD", start=0, end=60 * 2000)
    )
    assert "more than" in refused.error
