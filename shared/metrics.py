"""Prometheus metrics that every service shares (the bus, the runtime)."""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import Counter, Gauge, Histogram

BUS_PUBLISHED = Counter("bus_published_total", "Messages published on the bus", ["stream"])
BUS_RECEIVED = Counter("bus_received_total", "Messages received from the bus", ["stream"])
BUS_DROPPED = Counter(
    "bus_dropped_total", "Market-data messages dropped because a subscriber fell behind", ["stream"]
)
BUS_DECODE_ERRORS = Counter(
    "bus_decode_errors_total", "Messages that failed to decode or validate", ["stream"]
)
BUS_HANDLER_ERRORS = Counter("bus_handler_errors_total", "Handlers that raised", ["stream"])
BUS_CONNECTED = Gauge("bus_connected", "1 while connected to NATS")
HANDLER_SECONDS = Histogram(
    "bus_handler_seconds",
    "Time spent in a message handler",
    ["stream"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
SERVICE_READY = Gauge("service_ready", "1 while the service reports ready")


@lru_cache(maxsize=4096)
def stream_label(subject: str) -> str:
    """A low-cardinality label for a subject: its first two tokens (`md.ticker`, `orders.approved`)."""
    return ".".join(subject.split(".", 2)[:2])


@lru_cache(maxsize=4096)
def published(subject: str) -> Counter:
    """The publish counter child for a subject (cached: `labels()` costs more than `inc()`)."""
    return BUS_PUBLISHED.labels(stream_label(subject))


class StreamMetrics:
    """The per-stream metric children a subscription uses on every message, resolved once."""

    def __init__(self, label: str) -> None:
        self.received = BUS_RECEIVED.labels(label)
        self.dropped = BUS_DROPPED.labels(label)
        self.decode_errors = BUS_DECODE_ERRORS.labels(label)
        self.handler_errors = BUS_HANDLER_ERRORS.labels(label)
        self.handler_seconds = HANDLER_SECONDS.labels(label)
