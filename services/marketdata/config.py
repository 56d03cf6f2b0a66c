"""Market-data settings: one frozen Struct, every field documented, unknown fields refused.

Environment overrides use `ALGOPIONEER_MARKETDATA__<FIELD>`; the venue table is shared
(`ALGOPIONEER_VENUE__WS_URL`, `ALGOPIONEER_VENUE__REST_HOST`, `ALGOPIONEER_VENUE__CA_FILE`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from services.marketdata.constants import CANDLES_MAX_PER_CALL, DEFAULT_MAX_MESSAGE_BYTES
from shared.config import ServiceSettings, VenueSettings

SOURCES = ("coinbase", "replay", "synthetic")


class MarketDataSettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the market-data service gets its feed and what it publishes."""

    venue: VenueSettings = msgspec.field(default_factory=VenueSettings)
    """Where the Coinbase protocol is spoken (the real venue or the simulator)."""
    source: str = "coinbase"
    """`coinbase` (live WS), `replay` (a JSONL file of recorded WS frames) or `synthetic` (seeded walk)."""
    products: tuple[str, ...] | str = ("BTC-USD",)
    """Products to subscribe to: a list, or a comma-separated string (handy in the environment)."""
    market_trades: bool = True
    """Also subscribe to `market_trades` and publish `Trade`s."""
    book_depth: int = 10
    """Levels per side in each published `BookUpdate`."""
    stale_after_s: float = 3.0
    """The feed counts as stale (and `/ready` false) after this long without a heartbeat."""
    heartbeat_timeout_s: float = 5.0
    """The watchdog reconnects after this long without a heartbeat (clean closes can stall silently)."""
    status_interval_s: float = 1.0
    """`FeedStatus` is published on every change and at least this often."""
    reconnect_base_s: float = 0.25
    """First reconnect delay ceiling; doubles per failed attempt (with jitter)."""
    reconnect_max_s: float = 30.0
    """Cap on the reconnect delay."""
    connect_timeout_s: float = 10.0
    """WebSocket opening-handshake timeout."""
    resync_timeout_s: float = 5.0
    """After a gap, reconnect if no fresh level2 snapshot arrived within this long."""
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Largest WS message accepted; level2 snapshots run to several MB."""
    candle_page_size: int = 300
    """Buckets per REST `get_candles` call (the venue caps it at 350)."""
    candle_max_bars: int = 20_000
    """Largest candle request served; bigger ones get an error reply."""
    candle_timeout_s: float = 10.0
    """Per-call REST timeout for candles."""
    candle_retries: int = 2
    """Extra attempts for a candle page that failed with a retryable error."""
    replay_file: str = ""
    """JSONL file, one recorded WS frame per line (source = replay)."""
    replay_speed: float = 1.0
    """Replay pace as a multiple of the recorded envelope timestamps; 0 replays as fast as possible."""
    replay_loop: bool = True
    """Start the file again at its end (each pass counts as a new connection)."""
    record_file: str = ""
    """Append every raw frame received to this JSONL file (the input `source = replay` reads)."""
    synthetic_seed: int = 1
    """Seed of the synthetic random walk: the same seed gives the same market."""
    synthetic_interval_s: float = 0.1
    """Seconds between synthetic ticks."""
    synthetic_start_price: str = "60000"
    """Starting mid of every synthetic product."""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}")
        if not self.product_ids:
            raise ValueError("products must name at least one product")
        if self.book_depth < 1:
            raise ValueError("book_depth must be at least 1")
        if self.stale_after_s <= 0 or self.heartbeat_timeout_s <= 0:
            raise ValueError("stale_after_s and heartbeat_timeout_s must be positive")
        if self.status_interval_s <= 0:
            raise ValueError("status_interval_s must be positive")
        if not 0 < self.reconnect_base_s <= self.reconnect_max_s:
            raise ValueError("reconnect_base_s must be positive and at most reconnect_max_s")
        if self.connect_timeout_s <= 0 or self.resync_timeout_s <= 0 or self.candle_timeout_s <= 0:
            raise ValueError("connect_timeout_s, resync_timeout_s and candle_timeout_s must be positive")
        if self.max_message_bytes < 1024 * 1024:
            raise ValueError("max_message_bytes must be at least 1 MiB (level2 snapshots are large)")
        if not 1 <= self.candle_page_size <= CANDLES_MAX_PER_CALL:
            raise ValueError(f"candle_page_size must be between 1 and {CANDLES_MAX_PER_CALL}")
        if self.candle_max_bars < 1 or self.candle_retries < 0:
            raise ValueError("candle_max_bars must be positive and candle_retries not negative")
        if self.source == "replay" and not self.replay_file:
            raise ValueError("replay_file must be set when source is replay")
        if self.replay_speed < 0 or self.synthetic_interval_s <= 0:
            raise ValueError("replay_speed must not be negative and synthetic_interval_s must be positive")
        try:
            price = Decimal(self.synthetic_start_price)
        except InvalidOperation:
            price = Decimal(-1)
        if not price.is_finite() or price <= 0:
            raise ValueError("synthetic_start_price must be a positive decimal")

    @property
    def product_ids(self) -> tuple[str, ...]:
        """The configured products, whichever way they were written."""
        raw = self.products.split(",") if isinstance(self.products, str) else self.products
        return tuple(dict.fromkeys(p.strip() for p in raw if p.strip()))
