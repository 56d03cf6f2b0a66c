"""Prometheus metrics of the execution service (names the Grafana dashboard expects)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ORDERS = Counter("execution_orders_total", "Order events published, by status", ["status"])
ORDER_LATENCY = Histogram(
    "execution_order_latency_seconds",
    "Time from receiving an approved order to its outcome being recorded on the bus",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
FILLS = Counter("execution_fills_total", "Fills published, by liquidity", ["liquidity"])
REDELIVERED = Counter(
    "execution_redelivered_total", "Redelivered orders, by whether the venue already had them", ["found"]
)
VENUE_RETRIES = Counter("execution_venue_retries_total", "Venue calls retried, by error class", ["error"])
REFUSED = Counter(
    "execution_orders_refused_total",
    "Approved orders answered without reaching the venue, by reason "
    "(DEADLINE_PASSED, HALTED, CANCELLED_BY_STRATEGY)",
    ["reason"],
)
EPOCH_FLOOR = Gauge(
    "execution_epoch_floor", "The newest risk epoch (halt) execution has seen; older approvals are refused"
)
STRATEGY_CANCELS = Counter(
    "execution_strategy_cancels_total",
    "Order ids in strategies' cancel requests, by outcome (cancelled, before_placement: answered "
    "instead of placed, other_strategy and empty: ignored)",
    ["outcome"],
)
