"""Simulator settings: one frozen Struct, every field documented, unknown fields refused."""

from __future__ import annotations

import msgspec


class SimConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to run the simulator. Defaults suit tests and the local stack."""

    run_dir: str
    """Where ca.pem, cdp_api_key.json, endpoints.json and sim.json are written."""
    host: str = "127.0.0.1"
    """Bind address. Loopback by default; containers pass 0.0.0.0 together with `advertise_host`."""
    advertise_host: str = ""
    """Name clients use to reach the simulator (in the certificate and the written endpoints);
    empty means `host` (or 127.0.0.1 when `host` is a wildcard)."""
    http_port: int | None = None
    """Plain-HTTP port for `/health`, `/ready`, `/metrics` like every service (None: not served)."""
    port: int = 0
    """REST (TLS) port; 0 picks a free one."""
    ws_port: int = 0
    """WebSocket (plain ws://) port; 0 picks a free one."""
    seed: int = 1
    """Seeds the synthetic market and order/trade ids: the same seed gives the same market."""
    account_id: str = "sim-account"
    """The one account the generated API key trades."""
    balances: dict[str, str] = msgspec.field(default_factory=lambda: {"USD": "100000", "BTC": "1"})
    """Starting wallet balances (decimal strings)."""
    feed_enabled: bool = True
    """Run the synthetic (or replay) price source that keeps books populated."""
    feed_interval_s: float = 0.25
    """Seconds between price-source ticks (book refresh and synthetic prints)."""
    replay_file: str | None = None
    """CSV or Parquet with `time` (unix s), `product_id`, `price` columns; replaces the random walk."""
    replay_speed: float = 1.0
    """Replay speed multiplier (file seconds per wall second)."""
    heartbeat_interval_s: float = 1.0
    """WS heartbeat period (Coinbase: 1 s)."""
    subscribe_timeout_s: float = 5.0
    """Close a WS connection that has not subscribed within this many seconds (Coinbase: 5 s)."""
    idle_close_s: float = 75.0
    """Close a connection without a heartbeats subscription after this long with nothing sent
    (Coinbase: 60-90 s). The close code (1000) is an assumption."""
    duplicate_mode: str = "return"
    """`return` the original order on a reused client_order_id (documented), or `reject` it."""
    spot_maker_fee: str = "0.005"
    """Spot maker rate (US Intro since 2026-09-16: 0.50%)."""
    spot_taker_fee: str = "0.009"
    """Spot taker rate (US Intro: 0.90%)."""
    futures_maker_fee: str = "0.0002"
    """CFM futures maker rate (not published; configurable stand-in)."""
    futures_taker_fee: str = "0.0005"
    """CFM futures taker rate."""
    rate_limit_private_per_s: float = 0.0
    """Token bucket for private REST calls (Coinbase: 30/s); 0 disables it."""
    rate_limit_public_per_s: float = 0.0
    """Token bucket for public REST calls (Coinbase: 10/s); 0 disables it."""
    jwt_leeway_s: int = 5
    """Clock skew allowed on `nbf`/`exp`."""
