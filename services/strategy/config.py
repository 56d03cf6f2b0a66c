"""Strategy-service settings: one frozen Struct, every field documented.

Environment overrides use `ALGOPIONEER_STRATEGY__<FIELD>` (e.g. `ALGOPIONEER_STRATEGY__WORKER_ID`).
Intervals are settings so tests can run the lease protocol in a second instead of in fifteen.
"""

from __future__ import annotations

import os
import re
import socket
from decimal import Decimal

from shared.config import ServiceSettings

_WORKER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class StrategySettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How one strategy worker runs its share of the portfolio."""

    worker_id: str = ""
    """This worker's id in leases and status; empty means `<hostname>-<pid>`."""
    heartbeat_interval_s: float = 2.0
    """How often leases (and this worker's presence key) are renewed and ownership is rebalanced."""
    lease_ttl_s: float = 10.0
    """A lease whose revision has not moved for this long (local clock) is taken over. Must stay
    below the `worker_leases` bucket TTL (15 s), which only garbage-collects dead keys."""
    claim_delay_s: float = 0.0
    """Wait this long after start before claiming (0 = one heartbeat), so peers are seen first."""
    snapshot_interval_s: float = 30.0
    """Periodic snapshot of every instance (state changes and fills snapshot at once anyway)."""
    status_interval_s: float = 5.0
    """`StrategyStatus` is published on every change and at least this often."""
    tick_queue: int = 1_000
    """Bounded queue per product subscription; the oldest tick is dropped when it is full."""
    restart_base_s: float = 1.0
    """First restart delay of a crashed instance; doubles per failure (with jitter)."""
    restart_max_s: float = 60.0
    """Cap on the restart delay."""
    restart_budget: int = 5
    """An instance that fails this many times within `restart_window_s` is Halted."""
    restart_window_s: float = 300.0
    """Window of the restart budget."""
    warmup_timeout_s: float = 2.0
    """How long to wait for the market-data candle RPC before warming up from live ticks."""
    ack_wait_s: float = 10.0
    """Ack wait of the per-instance order-event and fill consumers (redelivery after a crash)."""
    taker_fee_rate: Decimal = Decimal("0.006")
    """Fallback fee tier, taker (a fraction: 0.006 = 60 bps), used only until execution has written
    the account's real tier (`GET /transaction_summary`) to KV `fee_rates`."""
    maker_fee_rate: Decimal = Decimal("0.004")
    """Fallback fee tier, maker."""
    fees_refresh_s: float = 300.0
    """How often a running instance re-reads KV `fee_rates` (a tier changes with 30-day volume)."""
    execution_timeout_s: float = 30.0
    """An order the venue has not acknowledged for this long moves the instance to Reconciling
    (a resting limit order, once acknowledged, may rest as long as the strategy wants)."""
    plugin_dirs: str = ""
    """Folders searched for `module:Class` strategy references, separated like PATH (a mounted
    folder of strategy files in a container: `ALGOPIONEER_STRATEGY__PLUGIN_DIRS=/strategies`)."""
    product_retry_s: float = 2.0
    """While a product's trading rules are missing from KV `products`, look again this often."""

    def __post_init__(self) -> None:
        if self.worker_id and not _WORKER_ID.match(self.worker_id):
            raise ValueError("worker_id must be 1-64 letters, digits, '_' or '-'")
        if self.heartbeat_interval_s <= 0 or self.lease_ttl_s <= 0:
            raise ValueError("heartbeat_interval_s and lease_ttl_s must be positive")
        if self.lease_ttl_s < 2 * self.heartbeat_interval_s:
            raise ValueError("lease_ttl_s must be at least twice heartbeat_interval_s")
        if self.lease_ttl_s >= 15:
            raise ValueError("lease_ttl_s must be below the worker_leases bucket TTL (15 s)")
        if self.tick_queue < 1 or self.restart_budget < 1:
            raise ValueError("tick_queue and restart_budget must be at least 1")
        if not 0 < self.restart_base_s <= self.restart_max_s:
            raise ValueError("restart_base_s must be positive and at most restart_max_s")
        if self.fees_refresh_s <= 0:
            raise ValueError("fees_refresh_s must be positive")
        if min(self.snapshot_interval_s, self.status_interval_s, self.restart_window_s) <= 0:
            raise ValueError("snapshot_interval_s, status_interval_s and restart_window_s must be positive")
        if self.warmup_timeout_s < 0 or self.ack_wait_s <= 0 or self.product_retry_s <= 0:
            raise ValueError("warmup_timeout_s must not be negative; ack_wait_s, product_retry_s positive")
        if not (0 <= self.maker_fee_rate < 1 and 0 <= self.taker_fee_rate < 1):
            raise ValueError("fee rates must be fractions in [0, 1)")

    @property
    def resolved_worker_id(self) -> str:
        """The configured id, or hostname-pid (unique per process on one host)."""
        if self.worker_id:
            return self.worker_id
        host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname())
        return f"{host}-{os.getpid()}"
