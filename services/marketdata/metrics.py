"""Prometheus metrics of the market-data service (children pre-bound: label lookups cost per tick)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("md_messages_total", "Venue frames received, by channel", ["channel"])
GAPS = Counter("md_sequence_gaps_total", "Sequence gaps detected (each leads to a level2 resync)")
RECONNECTS = Counter("md_reconnects_total", "WebSocket reconnects (every connection after the first)")
MALFORMED = Counter("md_malformed_total", "Frames that failed to decode or validate and were skipped")
RESYNCS = Counter("md_resyncs_total", "level2 resubscriptions to rebuild books from a fresh snapshot")
CONNECTED = Gauge("md_feed_connected", "1 while the feed is connected")
STALENESS = Gauge("md_feed_staleness_seconds", "Seconds since the feed last proved alive (heartbeat)")
PUBLISH_LATENCY = Histogram(
    "md_frame_to_publish_seconds",
    "Time from a frame's arrival to the NATS publish of what it produced",
    buckets=(0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0),
)
CANDLE_REQUESTS = Counter("md_candle_requests_total", "Candle history requests, by outcome", ["outcome"])

_channel_counters: dict[str, Counter] = {}


def count_message(channel: str) -> None:
    """Count one frame of `channel` (the few channel names are bound once)."""
    child = _channel_counters.get(channel)
    if child is None:
        child = _channel_counters[channel] = MESSAGES.labels(channel or "other")
    child.inc()
