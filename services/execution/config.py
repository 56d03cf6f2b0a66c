"""Execution settings: one frozen Struct per concern, every field documented, unknown fields refused.

`ALGOPIONEER_EXECUTION__MODE=paper|live` picks the adapter; the paper and live tables are
`ALGOPIONEER_EXECUTION__PAPER__<FIELD>` and `ALGOPIONEER_EXECUTION__LIVE__<FIELD>`. The venue table is
shared (`ALGOPIONEER_VENUE__REST_HOST`, `..._CA_FILE`). Keys come from `CoinbaseCredentials` only.

`ALGOPIONEER_VENUE__NAME` is the market (`coinbase`); the mode picks the venue the service serves
(`served_venue`): the market itself when live, its paper venue (`coinbase-paper`) in paper mode.
"""

from __future__ import annotations

import msgspec

from services.execution.coinbase.config import LiveSettings
from shared import routing
from shared.config import ServiceSettings, VenueSettings

MODES = ("paper", "live")


class PaperSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the simulated venue fills orders against market data from the bus."""

    account_id: str = "paper"
    """Name of the simulated account (its balances live in KV `paper_account`)."""
    initial_balances: dict[str, str] = msgspec.field(
        default_factory=lambda: {"USD": "100000", "BTC": "1", "ETH": "20", "SOL": "400", "LTC": "500"}
    )
    """Starting wallets (decimal strings) used when KV holds no account yet. Spot cannot be
    shorted, so pairs strategies sell their short leg from inventory: the paper account holds some."""
    latency_ms: float = 0.0
    """Delay between receiving an order and matching it (the market may move meanwhile)."""
    slippage_bps: float = 0.0
    """Widens the simulated book by this much per side: takers pay it, resting orders fill later."""
    maker_fee_rate: str = "0.005"
    """Spot maker rate (Coinbase US Intro tier since 2026-09-16: 0.50%)."""
    taker_fee_rate: str = "0.009"
    """Spot taker rate (US Intro: 0.90%)."""
    futures_maker_fee_rate: str = "0.0002"
    """CFM maker rate (not published by Coinbase; a configurable stand-in)."""
    futures_taker_fee_rate: str = "0.0005"
    """CFM taker rate."""
    fill_on_trades: bool = True
    """Public trades on `md.trade` also fill resting orders they trade through (maker fills)."""
    use_tickers: bool = True
    """Use `md.ticker` top of book as liquidity for products that have no `md.book` yet."""
    market_wait_s: float = 2.0
    """How long an order for a product with no book (or ticker) seen since start waits for the first
    one before matching. If none comes in time the order is nak'd and redelivered later
    (`MarketDataPendingError`, retryable), never rejected: the paper venue has not seen the market
    yet, which is not the same as an empty book (that is still `INVALID_NO_LIQUIDITY`)."""

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.slippage_bps < 0 or self.market_wait_s < 0:
            raise ValueError("latency_ms, slippage_bps and market_wait_s must not be negative")
        if not self.account_id:
            raise ValueError("account_id must not be empty")


class ExecutionSettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The execution service: which adapter, and how the shared order path behaves."""

    venue: VenueSettings = msgspec.field(default_factory=VenueSettings)
    """The market (`coinbase`: its market data prices paper fills) and, for live, where the API is.
    The venue served is `served_venue`."""
    mode: str = "paper"
    """`paper` (simulated fills from bus market data) or `live` (Coinbase Advanced Trade)."""
    paper: PaperSettings = msgspec.field(default_factory=PaperSettings)
    """Paper-venue settings (mode = paper)."""
    live: LiveSettings = msgspec.field(default_factory=LiveSettings)
    """Live-adapter settings (mode = live)."""
    products_refresh_s: float = 300.0
    """How often the product catalogue is re-written to KV `products` (also at start)."""
    redelivery_delay_s: float = 1.0
    """Delay before an order whose handling failed is delivered again (NATS nak delay)."""
    ack_wait_s: float = 30.0
    """How long the work queue waits for an ack before it redelivers an order to any replica."""
    clock_skew_ms: int = 1000
    """Allowed clock difference between risk's host and execution's: an order is refused as past
    its deadline only once the local clock is this far beyond `Order.expires_ns`."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        try:
            routing.execution_venue(self.venue.name, self.mode)
        except ValueError as exc:
            raise ValueError(f"venue.name must be a market id such as 'coinbase': {exc}") from None
        if isinstance(self.clock_skew_ms, bool) or self.clock_skew_ms < 0:
            raise ValueError("clock_skew_ms must not be negative")
        if self.products_refresh_s <= 0 or self.redelivery_delay_s < 0 or self.ack_wait_s <= 0:
            raise ValueError(
                "products_refresh_s and ack_wait_s must be positive, redelivery_delay_s not negative"
            )

    @property
    def served_venue(self) -> str:
        """The execution venue this service serves: its orders, cancels, fills, events and products."""
        return routing.execution_venue(self.venue.name, self.mode)
