"""The Coinbase market-data WebSocket: connect, subscribe, receive, watchdog, resync, reconnect.

Written on `websockets.asyncio.client` directly rather than the SDK's `WSClient`, which stops without
a word on a clean close (1000/1001) and dies silently when a callback raises. Here
every way a session can end — a clean or unclean close, a stalled heartbeat, a failed resync, an
error — ends in the same place: report the reason, back off with jitter, connect again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from typing import Any, Protocol

import msgspec
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from services.marketdata import constants as c
from services.marketdata.config import MarketDataSettings
from shared.backoff import Backoff
from shared.config import CoinbaseCredentials

_log = structlog.get_logger("marketdata.ws")
_encoder = msgspec.json.Encoder()


class FrameSink(Protocol):
    """Where a source delivers frames; the service implements it around a `FeedProcessor`."""

    def on_connected(self) -> None:
        """A new connection (or replay pass) begins: reset sequence tracking and books."""

    def on_disconnected(self, reason: str) -> None:
        """The connection ended; `reason` is for status and logs."""

    async def on_frame(self, data: bytes | str, receive_ns: int) -> None:
        """Process and publish one raw frame; must not raise for bad input."""

    def take_resync(self) -> bool:
        """True once when books need a fresh level2 snapshot."""

    def books_valid(self) -> bool:
        """True when every book was rebuilt from a snapshot."""

    def liveness_ns(self) -> int:
        """When the feed last proved alive (the last heartbeat on the live venue)."""


def subscribe_messages(
    kind: str, channels: list[tuple[str, list[str]]], credentials: CoinbaseCredentials | None
) -> list[str]:
    """One message per channel, each with a fresh JWT when keys exist (JWTs last 120 s).

    Returned as text: websockets sends `bytes` as a binary frame, which the venue does not read.
    """
    messages = []
    for channel, products in channels:
        body: dict[str, Any] = {"type": kind, "product_ids": products, "channel": channel}
        if credentials is not None:
            body["jwt"] = build_ws_jwt(credentials)
        messages.append(_encoder.encode(body).decode())
    return messages


def build_ws_jwt(credentials: CoinbaseCredentials) -> str:
    """An ES256 (or EdDSA) JWT without `uri`, built by the SDK's own helper."""
    from coinbase import jwt_generator

    token: str = jwt_generator.build_ws_jwt(credentials.api_key, credentials.reveal_secret())
    return token


class CoinbaseWsSource:
    """Keeps one market-data connection alive for the configured products, for as long as it runs."""

    def __init__(
        self,
        settings: MarketDataSettings,
        credentials: CoinbaseCredentials | None,
        sink: FrameSink,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.sink = sink
        self.backoff = Backoff(settings.reconnect_base_s, settings.reconnect_max_s, rng)
        products = list(settings.product_ids)
        self.channels: list[tuple[str, list[str]]] = [
            (c.CHANNEL_HEARTBEATS, []),
            (c.CHANNEL_TICKER, products),
            (c.CHANNEL_LEVEL2, products),
        ]
        if settings.market_trades:
            self.channels.append((c.CHANNEL_MARKET_TRADES, products))
        self.resyncs = 0

    def _ssl(self) -> ssl.SSLContext | None:
        url = self.settings.venue.ws_url
        if not url.startswith("wss://"):
            return None
        return ssl.create_default_context(cafile=self.settings.venue.ca_file or None)

    async def run(self) -> None:
        """Connect, receive and reconnect until cancelled."""
        while True:
            reason = await self._session()
            self.sink.on_disconnected(reason)
            delay = self.backoff.next_delay()
            _log.warning("ws_disconnected", reason=reason, reconnect_in_s=round(delay, 3))
            await asyncio.sleep(delay)

    async def _session(self) -> str:
        """One connection from open to end; returns why it ended. Only cancellation escapes."""
        s = self.settings
        try:
            async with connect(
                s.venue.ws_url,
                ssl=self._ssl(),
                open_timeout=s.connect_timeout_s,
                close_timeout=1.0,
                max_size=s.max_message_bytes,
                max_queue=64,
                user_agent_header="algopioneer-marketdata",
            ) as ws:
                self.sink.on_connected()
                _log.info("ws_connected", url=s.venue.ws_url, products=s.product_ids)
                for message in subscribe_messages("subscribe", self.channels, self.credentials):
                    await ws.send(message)
                return await self._receive(ws)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            return f"closed by venue ({code})"
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return f"connect failed: {type(exc).__name__}: {exc}"
        except Exception as exc:  # the feed must never stop: log it and reconnect
            _log.exception("ws_session_error", error=str(exc))
            return f"error: {type(exc).__name__}: {exc}"

    async def _receive(self, ws: ClientConnection) -> str:
        """Read frames until the watchdog, a failed resync or the venue ends the session."""
        s = self.settings
        sink = self.sink
        connected_ns = time.time_ns()
        timeout_ns = int(s.heartbeat_timeout_s * 1e9)
        resync_timeout_ns = int(s.resync_timeout_s * 1e9)
        resync_since = 0
        healthy = False
        while True:
            liveness = max(sink.liveness_ns(), connected_ns)
            remaining_s = (liveness + timeout_ns - time.time_ns()) / 1e9
            if remaining_s <= 0:
                _abort(ws)
                return f"watchdog: no heartbeat for {s.heartbeat_timeout_s}s"
            try:
                async with asyncio.timeout(remaining_s):
                    data = await ws.recv(decode=False)
            except TimeoutError:
                continue
            now = time.time_ns()
            await sink.on_frame(data, now)
            if not healthy and sink.liveness_ns() > connected_ns:
                healthy = True
                self.backoff.reset()
            if sink.take_resync():
                await self._resubscribe_level2(ws)
                resync_since = now
            elif resync_since:
                if sink.books_valid():
                    resync_since = 0
                elif now - resync_since > resync_timeout_ns:
                    _abort(ws)
                    return f"resync: no level2 snapshot within {s.resync_timeout_s}s"

    async def _resubscribe_level2(self, ws: ClientConnection) -> None:
        """Drop and re-request level2: the venue answers with a fresh snapshot (the venue's recovery path)."""
        self.resyncs += 1
        level2 = [(name, products) for name, products in self.channels if name == c.CHANNEL_LEVEL2]
        _log.warning("ws_level2_resync", products=self.settings.product_ids)
        for message in subscribe_messages("unsubscribe", level2, self.credentials):
            await ws.send(message)
        for message in subscribe_messages("subscribe", level2, self.credentials):
            await ws.send(message)


def _abort(ws: ClientConnection) -> None:
    """Drop the TCP connection now: a stalled peer would hold a closing handshake for close_timeout."""
    with contextlib.suppress(Exception):
        ws.transport.abort()
