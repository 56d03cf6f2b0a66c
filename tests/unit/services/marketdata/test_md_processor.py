"""Frames of every channel through the processor: normalization, malformed input, gaps, resync."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from services.marketdata.health import FeedHealth
from services.marketdata.processor import FeedProcessor
from shared import subjects
from shared.messages import BookUpdate, Side, Ticker, Trade

from .helpers import edited, frame, raw

D = Decimal
PRODUCTS = ("BTC-USD", "ETH-USD")


def _processor(depth: int = 2) -> FeedProcessor:
    health = FeedHealth("coinbase", PRODUCTS, 3_000_000_000, require_heartbeats=True)
    processor = FeedProcessor("coinbase", PRODUCTS, depth, health)
    processor.on_connected()
    return processor


def _only(out: list[tuple[str, msgspec.Struct]]) -> tuple[str, msgspec.Struct]:
    assert len(out) == 1, out
    return out[0]


def test_a_ticker_becomes_a_ticker_message() -> None:
    subject, tick = _only(_processor().process(raw("ticker_snapshot"), 42))
    assert subject == subjects.ticker("coinbase", "BTC-USD")
    assert tick == Ticker(
        venue="coinbase",
        product_id="BTC-USD",
        bid=D("21931.98"),
        ask=D("21933.98"),
        bid_size=D("8000.21"),
        ask_size=D("8038.07770938"),
        last=D("21932.98"),
        exchange_time_ns=1_675_974_637_167_359_596,
        receive_time_ns=42,
        sequence=0,
    )


def test_level2_snapshot_then_update_publishes_top_n() -> None:
    processor = _processor()
    subject, snap = _only(processor.process(raw("l2_snapshot"), 1))
    assert subject == subjects.book("coinbase", "BTC-USD")
    assert isinstance(snap, BookUpdate)
    assert snap.is_snapshot
    assert [(lv.price, lv.size) for lv in snap.bids] == [
        (D("21921.73"), D("0.06317902")),
        (D("21921.3"), D("0.002")),
    ]
    assert [lv.price for lv in snap.asks] == [D("21922.3"), D("21923.00")]
    _, update = _only(processor.process(raw("l2_update"), 2))
    assert isinstance(update, BookUpdate)
    assert not update.is_snapshot
    assert update.sequence == 1
    assert (update.bids[0].price, update.bids[0].size) == (D("21921.80"), D("2"))
    assert [lv.price for lv in update.asks] == [D("21923.00"), D("21925.10")]


def test_an_update_below_the_top_n_publishes_nothing() -> None:
    processor = _processor(depth=1)
    processor.process(raw("l2_snapshot"), 1)
    deep = edited(
        "l2_update",
        ("events", 0, "updates"),
        [{"side": "bid", "event_time": "", "price_level": "21000", "new_quantity": "1"}],
    )
    assert processor.process(deep, 2) == []
    assert processor.books["BTC-USD"].bids.sizes[D("21000")] == D("1")


def test_market_trades_become_trades_with_the_takers_side() -> None:
    out = _processor().process(raw("market_trades_snapshot"), 7)
    assert [s for s, _ in out] == [
        subjects.trade("coinbase", "ETH-USD"),
        subjects.trade("coinbase", "BTC-USD"),
    ]
    first = out[0][1]
    assert isinstance(first, Trade)
    assert first.side is Side.SELL
    assert first.price == D("1260.01")


@pytest.mark.parametrize("name", ["heartbeats", "heartbeats_numeric"])
def test_heartbeats_with_string_or_numeric_counters_prove_liveness(name: str) -> None:
    processor = _processor()
    assert processor.process(raw(name), 99) == []
    assert processor.health.last_heartbeat_ns == 99
    assert processor.health.malformed == 0


def test_subscription_acks_and_unknown_channels_are_ignored_not_malformed() -> None:
    processor = _processor()
    assert processor.process(raw("subscriptions"), 1) == []
    assert processor.process(frame("status", sequence_num=1), 2) == []
    assert processor.process(frame("ticker_snapshot", channel="candles_v9", sequence_num=2), 3) == []
    health = processor.health
    assert health.malformed == 0
    assert health.unknown == 2
    assert health.gaps == 0


def test_venue_errors_are_counted_apart_from_malformed() -> None:
    processor = _processor()
    assert processor.process(raw("error"), 1) == []
    assert processor.health.venue_errors == 1
    assert processor.health.malformed == 0


MALFORMED = {
    "not json": b'{"channel": "l2_data", "events": [',
    "empty": b"",
    "array": b"[1, 2]",
    "NaN price": edited("ticker_snapshot", ("events", 0, "tickers", 0, "price"), "NaN"),
    "infinite bid": edited("ticker_snapshot", ("events", 0, "tickers", 0, "best_bid"), "Infinity"),
    "negative size": edited("ticker_snapshot", ("events", 0, "tickers", 0, "best_ask_quantity"), "-1"),
    "junk number": edited("ticker_snapshot", ("events", 0, "tickers", 0, "price"), "abc"),
    "missing field": edited("ticker_snapshot", ("events", 0, "tickers", 0), {"product_id": "BTC-USD"}),
    "bad trade time": edited("market_trades_snapshot", ("events", 0, "trades", 0, "time"), "soon"),
    "bad envelope time": frame("ticker_snapshot", timestamp="noon"),
    "wrong sequence type": frame("ticker_snapshot", sequence_num="one"),
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frames_are_counted_and_skipped(payload: bytes) -> None:
    processor = _processor()
    assert processor.process(payload, 1) == []
    assert processor.health.malformed == 1
    _, tick = _only(processor.process(frame("ticker_snapshot", sequence_num=1), 2))  # the feed goes on
    assert isinstance(tick, Ticker)


@pytest.mark.parametrize(
    "level",
    [
        {"side": "bid", "event_time": "", "price_level": "NaN", "new_quantity": "1"},
        {"side": "bid", "event_time": "", "price_level": "100", "new_quantity": "-2"},
        {"side": "middle", "event_time": "", "price_level": "100", "new_quantity": "2"},
    ],
)
def test_a_malformed_level2_update_invalidates_the_book_and_asks_for_a_resync(level: dict[str, str]) -> None:
    processor = _processor()
    processor.process(raw("l2_snapshot"), 1)
    bad = edited("l2_update", ("events", 0, "updates"), [level])
    assert processor.process(bad, 2) == []
    assert processor.health.malformed == 1
    assert not processor.books["BTC-USD"].valid
    assert processor.take_resync()
    assert not processor.take_resync()


def test_a_sequence_gap_drops_the_books_ignores_updates_and_a_snapshot_rebuilds() -> None:
    processor = _processor()
    processor.process(raw("l2_snapshot"), 1)
    assert processor.books_valid() is False  # ETH-USD has no snapshot yet
    processor.process(frame("l2_snapshot", sequence_num=1).replace(b"BTC-USD", b"ETH-USD"), 2)
    assert processor.books_valid()
    heartbeat_after_gap = frame("heartbeats", sequence_num=5)
    processor.process(heartbeat_after_gap, 3)
    assert processor.health.gaps == 1
    assert processor.take_resync()
    assert not processor.books_valid()
    assert len(processor.books["BTC-USD"].bids) == 0
    assert processor.process(frame("l2_update", sequence_num=6), 4) == []  # no book to update
    _, rebuilt = _only(processor.process(frame("l2_snapshot", sequence_num=7), 5))
    assert isinstance(rebuilt, BookUpdate)
    assert rebuilt.is_snapshot
    assert processor.books["BTC-USD"].valid


def test_a_late_frame_is_ignored() -> None:
    processor = _processor()
    processor.process(frame("heartbeats", sequence_num=0), 1)
    processor.process(frame("heartbeats", sequence_num=2), 2)
    assert processor.process(frame("ticker_snapshot", sequence_num=1), 3) == []
    assert processor.sequence.stale == 1
    assert processor.health.gaps == 1


def test_an_unknown_channel_still_advances_the_sequence() -> None:
    processor = _processor()
    processor.process(frame("heartbeats", sequence_num=0), 1)
    processor.process(frame("status", sequence_num=1), 2)
    processor.process(frame("heartbeats", sequence_num=2), 3)
    assert processor.health.gaps == 0


def test_products_we_did_not_ask_for_are_not_published() -> None:
    processor = _processor()
    other = frame("ticker_snapshot").replace(b"BTC-USD", b"SOL-USD")
    assert processor.process(other, 1) == []
    assert processor.health.malformed == 0


def test_a_new_connection_resets_sequence_and_books() -> None:
    processor = _processor()
    processor.process(frame("l2_snapshot", sequence_num=10), 1)
    processor.on_connected()
    assert not processor.books["BTC-USD"].valid
    assert _only(processor.process(frame("l2_snapshot", sequence_num=0), 2))
    assert processor.health.gaps == 0
