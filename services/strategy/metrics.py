"""Prometheus metrics of the strategy service (names the Grafana dashboard expects)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TICK_TO_INTENT = Histogram(
    "strategy_tick_to_intent_seconds",
    "From a tick's arrival at this worker to its intents being stored in INTENTS",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
INSTANCES = Gauge("strategy_instances", "Instances owned by this worker, by state", ["state"])
INTENTS = Counter("strategy_intents_total", "Intents published, by purpose", ["purpose"])
RESTARTS = Counter("strategy_instance_restarts_total", "Instances restarted after an exception")
LEASES = Counter("strategy_leases_total", "Lease events: acquired, taken_over, released, lost", ["event"])
UNSENDABLE = Counter(
    "strategy_unsendable_orders_total", "Order requests below the venue minimums", ["reason"]
)

STATES = (
    "flat",
    "entering",
    "in_position",
    "exiting",
    "reconciling",
    "halted",
    "starting",
    "backoff",
    "waiting_products",
    "invalid",
)
