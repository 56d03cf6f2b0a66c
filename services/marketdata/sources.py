"""Feeds that need no exchange: a replay of recorded WS frames and a seeded synthetic market.

Both deliver raw Coinbase frames to the same `FrameSink` as the live WebSocket, so the stack runs
(and is tested) without any venue. `build_source` picks one from config.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import msgspec
import structlog

from services.marketdata.config import MarketDataSettings
from services.marketdata.errors import MalformedMessageError
from services.marketdata.parse import rfc3339_ns
from services.marketdata.synthetic import SyntheticMarket
from services.marketdata.ws import CoinbaseWsSource, FrameSink
from shared.config import CoinbaseCredentials

_log = structlog.get_logger("marketdata.source")
_YIELD_EVERY = 256


class Source(Protocol):
    """Runs until cancelled, delivering frames to its sink."""

    async def run(self) -> None:
        """Deliver frames forever (or until the data ends)."""


class _Stamp(msgspec.Struct, frozen=True):
    timestamp: str = ""


_stamp_decoder = msgspec.json.Decoder(_Stamp)


def _recorded_ns(line: bytes) -> int:
    """The envelope timestamp of a recorded frame, or 0 when it has none (or is junk)."""
    try:
        stamp = _stamp_decoder.decode(line).timestamp
        return rfc3339_ns(stamp) if stamp else 0
    except (msgspec.DecodeError, msgspec.ValidationError, MalformedMessageError):
        return 0


class ReplaySource:
    """Replays a JSONL file of recorded frames, paced by their envelope timestamps × `replay_speed`."""

    def __init__(self, settings: MarketDataSettings, sink: FrameSink) -> None:
        self.path = Path(settings.replay_file)
        self.speed = settings.replay_speed
        self.loop = settings.replay_loop
        self.sink = sink
        self.passes = 0

    async def run(self) -> None:
        """One pass per simulated connection; idle (disconnected) after the last one."""
        while True:
            self.sink.on_connected()
            self.passes += 1
            try:
                await self._one_pass()
            except OSError as exc:
                self.sink.on_disconnected(f"replay file unreadable: {exc}")
                _log.error("replay_unreadable", path=str(self.path), error=str(exc))
                return
            if not self.loop:
                self.sink.on_disconnected("replay finished")
                return

    async def _one_pass(self) -> None:
        first_recorded = 0
        started = time.monotonic()
        with self.path.open("rb") as lines:
            for count, raw in enumerate(lines):
                line = raw.strip()
                if not line:
                    continue
                if self.speed > 0:
                    recorded = _recorded_ns(line)
                    if recorded and not first_recorded:
                        first_recorded = recorded
                    if recorded:
                        due = started + (recorded - first_recorded) / 1e9 / self.speed
                        delay = due - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                elif count % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                await self.sink.on_frame(line, time.time_ns())
                self.sink.take_resync()  # a file cannot resubscribe: books wait for its next snapshot


class SyntheticSource:
    """A seeded random walk emitting Coinbase frames every `synthetic_interval_s`, heartbeats at 1 Hz."""

    def __init__(self, settings: MarketDataSettings, sink: FrameSink) -> None:
        self.market = SyntheticMarket(
            settings.product_ids, settings.synthetic_seed, Decimal(settings.synthetic_start_price)
        )
        self.interval_s = settings.synthetic_interval_s
        self.sink = sink

    async def run(self) -> None:
        """Snapshot, then steps forever; a resync request replays the snapshots as a new connection."""
        next_heartbeat = 0
        while True:
            self.sink.on_connected()
            for frame in self.market.connect(time.time_ns()):
                await self.sink.on_frame(frame, time.time_ns())
            while not self.sink.take_resync():
                await asyncio.sleep(self.interval_s)
                now = time.time_ns()
                frames = self.market.step(now)
                if now >= next_heartbeat:
                    frames.append(self.market.heartbeat(now))
                    next_heartbeat = now + 1_000_000_000
                for frame in frames:
                    await self.sink.on_frame(frame, time.time_ns())


def build_source(
    settings: MarketDataSettings, credentials: CoinbaseCredentials | None, sink: FrameSink
) -> Source:
    """The source that `settings.source` names."""
    if settings.source == "replay":
        return ReplaySource(settings, sink)
    if settings.source == "synthetic":
        return SyntheticSource(settings, sink)
    return CoinbaseWsSource(settings, credentials, sink)
