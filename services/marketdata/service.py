"""The market-data service: a source feeds raw frames to the processor; results go on the bus.

Thin by design: decoding, sequence checks and books live in `FeedProcessor`, health in
`FeedHealth`; this class wires a source, the bus, `/ready`, metrics and the candle RPC together.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import BinaryIO

import nats.errors
import structlog

from services.marketdata import metrics
from services.marketdata.candles import CandleFetcher
from services.marketdata.config import MarketDataSettings
from services.marketdata.health import FeedHealth
from services.marketdata.processor import FeedProcessor
from services.marketdata.sources import Source, build_source
from services.marketdata.synthetic import SyntheticCandles
from shared import subjects
from shared.bus import Bus
from shared.config import CoinbaseCredentials
from shared.messages import CandleRequest
from shared.runtime import ServiceContext
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("marketdata")
_STATUS_POLL_S = 0.1


class MarketDataService:
    """Runs one venue feed and the candle history RPC; implements the sources' `FrameSink`."""

    def __init__(
        self,
        settings: MarketDataSettings,
        credentials: CoinbaseCredentials | None = None,
        *,
        credentials_from_environment: bool = True,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._credentials_from_environment = credentials_from_environment
        venue = settings.venue.name
        self.health = FeedHealth(
            venue,
            settings.product_ids,
            int(settings.stale_after_s * 1e9),
            require_heartbeats=settings.source == "coinbase",
        )
        self.processor = FeedProcessor(venue, settings.product_ids, settings.book_depth, self.health)
        self._bus: Bus | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._status_subject = subjects.feed_status(venue)
        self._counted = (0, 0, 0)
        self.source: Source | None = None
        self._recording: BinaryIO | None = None

    def attach(self, bus: Bus) -> None:
        """Publish through `bus`; `start` does this, benchmarks and tools call it without a source."""
        self._bus = bus

    async def start(self, ctx: ServiceContext) -> None:
        """Serve candles, register readiness, start the source and the status loop."""
        self.attach(ctx.bus)
        creds = self._credentials
        if creds is None and self._credentials_from_environment:
            creds = CoinbaseCredentials.from_environment()
        candles = self._candle_source(creds)
        await ctx.bus.serve(
            subjects.candles_rpc(self.settings.venue.name), CandleRequest, candles.handle, queue="marketdata"
        )
        ctx.add_ready_check("feed", lambda: self.health.ready(time.time_ns()))
        ctx.add_ready_detail("feed", lambda: self.health.detail(time.time_ns()))
        if self.settings.record_file:
            self._recording = open(self.settings.record_file, "ab", buffering=1 << 20)  # noqa: SIM115
        self.source = build_source(self.settings, creds, self)
        self._tasks = [
            asyncio.create_task(self.source.run(), name="marketdata-source"),
            asyncio.create_task(self._status_loop(), name="marketdata-status"),
        ]
        _log.info(
            "marketdata_started",
            source=self.settings.source,
            products=self.settings.product_ids,
            authenticated=creds is not None,
        )

    def _candle_source(self, creds: CoinbaseCredentials | None) -> CandleFetcher | SyntheticCandles:
        """Synthetic bars for the synthetic source (no exchange at all); the venue's REST otherwise."""
        s = self.settings
        if s.source == "synthetic":
            price = Decimal(s.synthetic_start_price)
            return SyntheticCandles(s.venue.name, s.synthetic_seed, price, s.candle_max_bars)
        return CandleFetcher(s, creds)

    async def stop(self) -> None:
        """Stop the source and status loop, then say the feed is down."""
        await cancel_and_wait(self._tasks)
        self.health.on_disconnected("stopping")
        await self._publish_status(time.time_ns())
        if self._recording is not None:
            self._recording.close()
            self._recording = None

    # ---- FrameSink ----
    def on_connected(self) -> None:
        """A new connection: books and sequence start over."""
        self.health.on_connected(time.time_ns())
        self.processor.on_connected()

    def on_disconnected(self, reason: str) -> None:
        """Remember why the feed went down (shown in `FeedStatus` and `/ready`)."""
        self.health.on_disconnected(reason)

    async def on_frame(self, data: bytes | str, receive_ns: int) -> None:
        """Normalize one frame and publish the results, untraced (market data is not traced)."""
        if self._recording is not None:
            self._record(self._recording, data)
        try:
            outgoing = self.processor.process(data, receive_ns)
        except Exception as exc:  # a processor bug must not stop the feed: count it like junk
            self.health.malformed += 1
            _log.exception("frame_processing_error", error=str(exc))
            return
        metrics.count_message(self.processor.last_channel)
        if not outgoing or self._bus is None:
            return
        publish = self._bus.publish
        try:
            for subject, message in outgoing:
                await publish(subject, message, traced=False)
        except nats.errors.Error as exc:
            _log.warning("publish_failed", error=str(exc))
            return
        metrics.PUBLISH_LATENCY.observe((time.time_ns() - receive_ns) / 1e9)

    def _record(self, recording: BinaryIO, data: bytes | str) -> None:
        """One frame per line; a newline can only be JSON whitespace, so it becomes a space."""
        raw = data.encode() if isinstance(data, str) else data
        try:
            recording.write(raw.replace(b"\n", b" ") + b"\n")
        except OSError as exc:  # a full disk must not stop the feed
            _log.error("record_failed", error=str(exc))
            self._recording = None

    def take_resync(self) -> bool:
        """Pass on the processor's request for a level2 resync."""
        wanted = self.processor.take_resync()
        if wanted:
            metrics.RESYNCS.inc()
        return wanted

    def books_valid(self) -> bool:
        """Every book rebuilt from a snapshot."""
        return self.processor.books_valid()

    def liveness_ns(self) -> int:
        """Last sign of life, for the watchdog."""
        return self.health.liveness_ns()

    # ---- status ----
    async def _status_loop(self) -> None:
        """Publish `FeedStatus` on every change (polled at 10 Hz) and at least every interval."""
        last_key = None
        last_sent = 0
        interval_ns = int(self.settings.status_interval_s * 1e9)
        while True:
            now = time.time_ns()
            key = self.health.key(now)
            if key != last_key or now - last_sent >= interval_ns:
                await self._publish_status(now)
                last_key, last_sent = key, now
            await asyncio.sleep(_STATUS_POLL_S)

    async def _publish_status(self, now_ns: int) -> None:
        health = self.health
        metrics.CONNECTED.set(1 if health.connected else 0)
        metrics.STALENESS.set(max(0.0, (now_ns - health.liveness_ns()) / 1e9) if health.connected else 0.0)
        gaps, malformed, reconnects = self._counted
        metrics.GAPS.inc(health.gaps - gaps)
        metrics.MALFORMED.inc(health.malformed - malformed)
        metrics.RECONNECTS.inc(health.reconnects - reconnects)
        self._counted = (health.gaps, health.malformed, health.reconnects)
        if self._bus is None:
            return
        try:
            await self._bus.publish(self._status_subject, health.status(now_ns), traced=False)
        except nats.errors.Error as exc:
            _log.warning("status_publish_failed", error=str(exc))
