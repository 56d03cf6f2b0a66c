"""Normalized market data. Times are integer nanoseconds since the epoch (UTC)."""

from __future__ import annotations

from decimal import Decimal

from shared.messages.base import Message, Side


class Ticker(Message, frozen=True, kw_only=True):
    """Top of book plus last trade for one product."""

    venue: str
    product_id: str
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal
    exchange_time_ns: int
    receive_time_ns: int
    sequence: int

    @property
    def mid(self) -> Decimal:
        """Mid price; the mark used for PnL and price bands."""
        return (self.bid + self.ask) / 2


class BookLevel(Message, frozen=True, kw_only=True, array_like=True):
    """One price level with its absolute quantity (array-encoded: it travels in bulk)."""

    price: Decimal
    size: Decimal


class BookUpdate(Message, frozen=True, kw_only=True):
    """Top-N of the L2 book after applying venue updates; best price first on each side."""

    venue: str
    product_id: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    is_snapshot: bool
    exchange_time_ns: int
    receive_time_ns: int
    sequence: int


class Trade(Message, frozen=True, kw_only=True):
    """A public trade print; `side` is the aggressor's side."""

    venue: str
    product_id: str
    trade_id: str
    price: Decimal
    size: Decimal
    side: Side
    exchange_time_ns: int
    receive_time_ns: int


class Candle(Message, frozen=True, kw_only=True):
    """An OHLCV bar that starts at `start` (epoch seconds) and lasts `granularity_s`."""

    venue: str
    product_id: str
    start: int
    granularity_s: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class CandleRequest(Message, frozen=True, kw_only=True):
    """Ask the market-data service for history: bars in [start, end) epoch seconds."""

    venue: str
    product_id: str
    start: int
    end: int
    granularity_s: int = 60


class CandleReply(Message, frozen=True, kw_only=True):
    """Bars sorted by start, de-duplicated; `error` is set instead when the request failed."""

    candles: tuple[Candle, ...] = ()
    error: str = ""


class FeedStatus(Message, frozen=True, kw_only=True):
    """Health of one venue feed, published on every change and periodically."""

    venue: str
    connected: bool
    stale: bool
    products: tuple[str, ...]
    gaps: int
    reconnects: int
    malformed: int
    last_message_ns: int
    time_ns: int
    reason: str = ""
