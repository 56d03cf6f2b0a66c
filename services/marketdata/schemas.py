"""Structs for Coinbase's raw WebSocket and REST JSON.

Frames are a tagged union on the envelope's `channel`, so one msgspec pass decodes a frame straight
into typed events with Decimal fields. Numbers are checked for sign and finiteness in `parse`.
Unknown fields are ignored: Coinbase adds fields without notice.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class TickerItem(msgspec.Struct, frozen=True):
    """One product's ticker inside a ticker event."""

    product_id: str
    price: Decimal
    best_bid: Decimal
    best_bid_quantity: Decimal
    best_ask: Decimal
    best_ask_quantity: Decimal


class TickerEvent(msgspec.Struct, frozen=True):
    """A `snapshot` or `update` batch of tickers."""

    tickers: list[TickerItem]
    type: str = ""


class L2Level(msgspec.Struct, frozen=True):
    """An absolute quantity at a price level; `new_quantity` "0" removes the level."""

    side: str
    price_level: Decimal
    new_quantity: Decimal
    event_time: str = ""


class L2Event(msgspec.Struct, frozen=True):
    """A `snapshot` or `update` for one product; bids and offers are mixed in `updates`."""

    type: str
    product_id: str
    updates: list[L2Level]


class TradeItem(msgspec.Struct, frozen=True):
    """A public trade; `side` is the MAKER's side."""

    trade_id: str
    product_id: str
    price: Decimal
    size: Decimal
    side: str
    time: str


class TradesEvent(msgspec.Struct, frozen=True):
    """A `snapshot` or `update` batch of trades."""

    trades: list[TradeItem]
    type: str = ""


class HeartbeatEvent(msgspec.Struct, frozen=True):
    """Liveness, once a second; the counter is documented as a string but seen as a number."""

    current_time: str = ""
    heartbeat_counter: int | str = 0


class _Frame(msgspec.Struct, frozen=True, tag_field="channel"):
    """The envelope every channel shares."""

    timestamp: str = ""
    sequence_num: int = -1
    client_id: str = ""


class TickerFrame(_Frame, frozen=True, tag="ticker"):
    """`ticker` channel."""

    events: list[TickerEvent] = []


class L2Frame(_Frame, frozen=True, tag="l2_data"):
    """`level2` subscriptions arrive on `l2_data`."""

    events: list[L2Event] = []


class TradesFrame(_Frame, frozen=True, tag="market_trades"):
    """`market_trades` channel."""

    events: list[TradesEvent] = []


class HeartbeatFrame(_Frame, frozen=True, tag="heartbeats"):
    """`heartbeats` channel."""

    events: list[HeartbeatEvent] = []


class SubscriptionsFrame(_Frame, frozen=True, tag="subscriptions"):
    """The ack of a subscribe/unsubscribe; its list format is undocumented, so it is not read."""


Frame = TickerFrame | L2Frame | TradesFrame | HeartbeatFrame | SubscriptionsFrame
KNOWN_CHANNELS = frozenset(("ticker", "l2_data", "market_trades", "heartbeats", "subscriptions"))


class Probe(msgspec.Struct, frozen=True):
    """Just enough of any message to tell an unknown channel or a venue error from junk."""

    channel: str = ""
    sequence_num: int = -1
    type: str = ""
    message: str = ""


class RestCandle(msgspec.Struct, frozen=True):
    """A REST candle row; `start` is UNIX seconds as a string."""

    start: int | str
    low: Decimal
    high: Decimal
    open: Decimal
    close: Decimal
    volume: Decimal


class RestCandles(msgspec.Struct, frozen=True):
    """The `get_candles` body: rows newest first, empty buckets omitted."""

    candles: list[RestCandle] = []


frame_decoder: msgspec.json.Decoder[Frame] = msgspec.json.Decoder(Frame)
probe_decoder: msgspec.json.Decoder[Probe] = msgspec.json.Decoder(Probe)
