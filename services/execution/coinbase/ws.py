"""The WS `user` channel as a low-latency trigger; REST stays the authoritative record.

The channel reports cumulative order state without trade ids, so a change there only *triggers* a
REST sync of that order (fills by trade id, status). Written on `websockets` directly, not the SDK's
`WSUserClient`, which stops silently on a clean close and dies when a callback raises: here a
heartbeat watchdog, a fresh JWT on every subscribe message, and reconnect with jitter. After
each (re)connect the snapshot (batches of 50; a shorter batch ends it) is followed by a sync of every
open order we track, since anything may have happened while we were away.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from services.execution.coinbase.config import LiveSettings
from shared.backoff import Backoff
from shared.coinbase.schemas import UserOrder, WsEnvelope
from shared.config import CoinbaseCredentials, VenueSettings

_log = structlog.get_logger("execution.coinbase.ws")
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(WsEnvelope)
SNAPSHOT_BATCH = 50
Trigger = Callable[[list[UserOrder], bool], Awaitable[None]]
"""Called with changed orders; the flag is True once a (re)connect snapshot is complete."""


def subscribe_message(channel: str, credentials: CoinbaseCredentials) -> str:
    """One channel per message, each with a fresh JWT (they expire after 120 s)."""
    from coinbase import jwt_generator

    token = jwt_generator.build_ws_jwt(credentials.api_key, credentials.reveal_secret())
    body: dict[str, Any] = {"type": "subscribe", "channel": channel, "product_ids": [], "jwt": token}
    return _encoder.encode(body).decode()


class UserChannel:
    """Keeps one `user` connection alive and passes order changes to `trigger`."""

    def __init__(
        self, venue: VenueSettings, settings: LiveSettings, credentials: CoinbaseCredentials, trigger: Trigger
    ) -> None:
        self.venue = venue
        self.settings = settings
        self.credentials = credentials
        self.trigger = trigger
        self.backoff = Backoff(settings.ws_reconnect_base_s, settings.ws_reconnect_max_s)
        self.connects = 0
        self.messages = 0
        self.last_reason = ""

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.venue.ws_user_url.startswith("wss://"):
            return None
        return ssl.create_default_context(cafile=self.venue.ca_file or None)

    async def run(self) -> None:
        """Connect, receive, reconnect: until cancelled."""
        while True:
            self.last_reason = await self._session()
            delay = self.backoff.next_delay()
            _log.warning("user_ws_disconnected", reason=self.last_reason, reconnect_in_s=round(delay, 3))
            await asyncio.sleep(delay)

    async def _session(self) -> str:
        try:
            async with connect(
                self.venue.ws_user_url,
                ssl=self._ssl(),
                open_timeout=10,
                close_timeout=1.0,
                max_size=16 * 1024 * 1024,
                user_agent_header="algopioneer-execution",
            ) as ws:
                self.connects += 1
                for channel in ("heartbeats", "user"):
                    await ws.send(subscribe_message(channel, self.credentials))
                return await self._receive(ws)
        except ConnectionClosed as exc:
            return f"closed by venue ({exc.rcvd.code if exc.rcvd is not None else 1006})"
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            return f"connect failed: {type(exc).__name__}"
        except Exception as exc:  # the channel must never stop for good
            _log.exception("user_ws_error", error=str(exc))
            return f"error: {type(exc).__name__}"

    async def _receive(self, ws: ClientConnection) -> str:
        timeout = self.settings.ws_heartbeat_timeout_s
        snapshot: list[UserOrder] = []
        in_snapshot = True
        while True:
            try:
                async with asyncio.timeout(timeout):
                    raw = await ws.recv(decode=False)
            except TimeoutError:
                with contextlib.suppress(Exception):
                    ws.transport.abort()  # a stalled peer would hold the close handshake
                return f"watchdog: nothing for {timeout}s"
            self.messages += 1
            try:
                envelope = _decoder.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                _log.warning("user_ws_malformed")
                continue
            if envelope.type == "error":
                return f"venue error: {envelope.message}"
            if envelope.channel != "user":
                continue
            self.backoff.attempt = 0
            for event in envelope.events:
                if event.type == "snapshot" and in_snapshot:
                    snapshot.extend(event.orders)
                    if len(event.orders) < SNAPSHOT_BATCH:
                        in_snapshot = False
                        await self._call(snapshot, True)
                        snapshot = []
                elif event.orders:
                    await self._call(event.orders, False)

    async def _call(self, orders: list[UserOrder], snapshot_done: bool) -> None:
        try:
            await self.trigger(orders, snapshot_done)
        except Exception as exc:  # a failing handler must not kill the receive loop (issue #94)
            _log.exception("user_ws_trigger_failed", error=str(exc))
