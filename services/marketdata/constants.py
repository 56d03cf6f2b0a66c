"""Coinbase Advanced Trade protocol constants."""

from __future__ import annotations

from typing import Final

from shared.coinbase.candles import GRANULARITY_BY_SECONDS as GRANULARITY_BY_SECONDS
from shared.coinbase.candles import MAX_PER_CALL

# Subscription channels (what we send) and the envelope `channel` they come back on.
CHANNEL_HEARTBEATS: Final = "heartbeats"
CHANNEL_TICKER: Final = "ticker"
CHANNEL_LEVEL2: Final = "level2"
CHANNEL_MARKET_TRADES: Final = "market_trades"
ENVELOPE_L2: Final = "l2_data"
ENVELOPE_SUBSCRIPTIONS: Final = "subscriptions"

EVENT_SNAPSHOT: Final = "snapshot"
EVENT_UPDATE: Final = "update"
SIDE_BID: Final = "bid"
SIDE_OFFER: Final = "offer"
SIDE_ASK: Final = "ask"  # not in the docs; accepted so a variant spelling is not a book-wrecking error

# Close codes we may see; any of them (clean or not) leads to a reconnect.
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001

# websockets' default max_size is 1 MiB; a BTC-USD level2 snapshot is about 4.6 MB.
DEFAULT_MAX_MESSAGE_BYTES: Final = 32 * 1024 * 1024
SUBSCRIBE_DEADLINE_S: Final = 5.0

# REST candles: defined once in `shared.coinbase.candles`, shared with the backtester.
CANDLES_MAX_PER_CALL: Final = MAX_PER_CALL
