"""Live-adapter settings (Coinbase Advanced Trade through `coinbase-advanced-py`)."""

from __future__ import annotations

import msgspec


class LiveSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Timeouts, retries, rate limits and fill polling of the live adapter."""

    request_timeout_s: float = 10.0
    """Per-request HTTP timeout; a create-order that times out has an *unknown* outcome."""
    place_attempts: int = 3
    """Create-order attempts with the same `client_order_id` after a timeout, 5xx or 429."""
    read_attempts: int = 4
    """Attempts for idempotent reads (get/list orders, fills, products)."""
    retry_base_s: float = 0.2
    """First retry delay ceiling; doubles per attempt (equal jitter)."""
    retry_max_s: float = 5.0
    """Cap on a retry delay."""
    rate_limit_per_s: float = 25.0
    """Client-side token bucket for private endpoints (the venue allows 30/s per key)."""
    fills_poll_interval_s: float = 1.0
    """How often REST `orders/historical/fills` (the authoritative fill record) is polled."""
    fills_page_size: int = 100
    """Fills per page (the venue's default is 100)."""
    fills_initial_lookback_s: float = 3600.0
    """With no cursor in KV yet, fills this old are still examined (de-duplicated by trade id)."""
    fills_overlap_s: float = 60.0
    """Every poll re-reads fills this far behind the cursor: a fill the venue lists late (with its
    original, older timestamp) is still found; trade ids already handled are skipped."""
    fills_seen_max: int = 10_000
    """How many handled trade ids the poller remembers to skip in the overlap window."""
    late_fill_recheck_s: float = 1.0
    """How often an order the venue reports done, but whose listed fills fall short of its filled
    size, has its fills re-read."""
    late_fill_wait_s: float = 300.0
    """How long such an order is held open waiting for its fills; then its final status is reported
    with the fills seen, an error is logged and reconciliation settles the rest."""
    order_lookback_s: float = 86400.0
    """How far back `list_orders` searches for a `client_order_id` before re-placing an order."""
    open_orders_sync_s: float = 30.0
    """Every open order is re-read from REST this often (catches changes the WS channel missed)."""
    ws_user: bool = True
    """Follow the WS `user` channel: a change there triggers an immediate REST sync of that order."""
    ws_heartbeat_timeout_s: float = 5.0
    """The watchdog reconnects the user channel after this long without a message."""
    ws_reconnect_base_s: float = 0.25
    """First user-channel reconnect delay ceiling; doubles per failed attempt (equal jitter)."""
    ws_reconnect_max_s: float = 30.0
    """Cap on the user-channel reconnect delay."""

    def __post_init__(self) -> None:
        if self.request_timeout_s <= 0 or self.fills_poll_interval_s <= 0 or self.open_orders_sync_s <= 0:
            raise ValueError(
                "request_timeout_s, fills_poll_interval_s and open_orders_sync_s must be positive"
            )
        if self.place_attempts < 1 or self.read_attempts < 1:
            raise ValueError("place_attempts and read_attempts must be at least 1")
        if not 0 < self.retry_base_s <= self.retry_max_s:
            raise ValueError("retry_base_s must be positive and at most retry_max_s")
        if self.ws_heartbeat_timeout_s <= 0 or not 0 < self.ws_reconnect_base_s <= self.ws_reconnect_max_s:
            raise ValueError("ws_heartbeat_timeout_s must be positive, ws_reconnect_base_s within (0, max]")
        if self.fills_overlap_s < 0 or self.fills_seen_max < 1:
            raise ValueError("fills_overlap_s must not be negative and fills_seen_max must be at least 1")
        if self.late_fill_recheck_s <= 0 or self.late_fill_wait_s < 0:
            raise ValueError("late_fill_recheck_s must be positive and late_fill_wait_s not negative")
        if self.rate_limit_per_s <= 0 or not 1 <= self.fills_page_size <= 1000:
            raise ValueError("rate_limit_per_s must be positive and fills_page_size within 1..1000")
