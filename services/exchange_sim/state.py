"""The simulator's shared state: the venue core plus what the REST/WS layers need around it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from services.exchange_sim.config import SimConfig
from services.exchange_sim.faults import Faults
from services.exchange_sim.tls import Credentials
from shared.venue import Trade, Venue, VenueEvents

GRANULARITY_S = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "FOUR_HOUR": 14400,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}


@dataclass
class Candle:
    """One OHLCV bucket."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def add(self, price: Decimal, size: Decimal) -> None:
        """Fold one trade in."""
        self.high, self.low = max(self.high, price), min(self.low, price)
        self.close = price
        self.volume += size


@dataclass
class CandleStore:
    """One-minute candles per product, built from trades; coarser buckets are folded on demand."""

    minutes: dict[str, dict[int, Candle]] = field(default_factory=dict)

    def add(self, trade: Trade) -> None:
        """Record a public trade."""
        start = trade.time_ns // 1_000_000_000 // 60 * 60
        book = self.minutes.setdefault(trade.product_id, {})
        candle = book.get(start)
        if candle is None:
            book[start] = Candle(start, trade.price, trade.price, trade.price, trade.price, trade.size)
        else:
            candle.add(trade.price, trade.size)

    def query(self, product_id: str, start: int, end: int, granularity_s: int) -> list[Candle]:
        """Buckets in [start, end), newest first; buckets without trades are omitted."""
        out: dict[int, Candle] = {}
        for minute in sorted(self.minutes.get(product_id, {})):
            if not start <= minute < end:
                continue
            c = self.minutes[product_id][minute]
            bucket = minute // granularity_s * granularity_s
            agg = out.get(bucket)
            if agg is None:
                out[bucket] = Candle(bucket, c.open, c.high, c.low, c.close, c.volume)
            else:
                agg.high, agg.low, agg.close = max(agg.high, c.high), min(agg.low, c.low), c.close
                agg.volume += c.volume
        return [out[k] for k in sorted(out, reverse=True)]


class SimState:
    """Venue + credentials + faults + the publish hook the WS hub installs."""

    def __init__(self, config: SimConfig, creds: Credentials, venue: Venue) -> None:
        self.config = config
        self.creds = creds
        self.venue = venue
        self.faults = Faults()
        self.candles = CandleStore()
        self.frozen: set[str] = set()
        self.feed_paused = False
        self.listeners: list[Callable[[VenueEvents], None]] = []
        self.time_offset_ns = 0

    @property
    def account_id(self) -> str:
        """The account the run's API key trades."""
        return self.config.account_id

    def now_ns(self) -> int:
        """Venue time: wall clock plus any offset a test added (the core itself has no clock)."""
        return time.time_ns() + self.time_offset_ns

    def publish(self) -> VenueEvents:
        """Drain the venue's events to candles and every listener (the WS hub)."""
        events = self.venue.drain_events()
        for trade in events.trades:
            self.candles.add(trade)
        for listener in self.listeners:
            listener(events)
        return events
