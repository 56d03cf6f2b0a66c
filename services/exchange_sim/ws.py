"""The WebSocket server: subscribe rules, per-connection sequence numbers, channels, WS faults.

Each connection has one writer task draining a queue, so `sequence_num` is assigned in send order and
faults (gaps, swaps, closes, garbage frames) are applied at one point.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from services.exchange_sim import cfm
from services.exchange_sim import ws_messages as m
from services.exchange_sim.auth import verify_jwt
from services.exchange_sim.render import rfc3339
from services.exchange_sim.state import SimState
from shared.tasks import cancel_and_wait
from shared.venue import Order, VenueEvents

log = structlog.get_logger()
CHANNELS = {
    "heartbeats",
    "ticker",
    "ticker_batch",
    "level2",
    "market_trades",
    "candles",
    "status",
    "user",
    "futures_balance_summary",
}
AUTH_CHANNELS = {"user", "futures_balance_summary"}
USER_ENDPOINT_CHANNELS = {"heartbeats", "user", "futures_balance_summary"}
PRODUCT_CHANNELS = CHANNELS - {"heartbeats", "futures_balance_summary"}
_CLOSE = object()
MAX_QUEUE = 20_000


class Connection:
    """One client socket: its subscriptions, sequence counter and pending faults."""

    def __init__(self, ws: web.WebSocketResponse, *, user_endpoint: bool = False) -> None:
        self.ws = ws
        self.user_endpoint = user_endpoint
        self.seq = 0
        self.subs: dict[str, set[str]] = defaultdict(set)
        self.subscribed = asyncio.Event()
        self.heartbeat_counter = 0
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.skip = 0
        self.swap_next = False
        self.last_sent = time.monotonic()
        self.slow = False

    def wants(self, channel: str, product_id: str | None = None) -> bool:
        """Subscribed to `channel` (for this product, or all products when the list was empty)."""
        if channel not in self.subs:
            return False
        products = self.subs[channel]
        return product_id is None or not products or product_id in products

    def send(self, channel: str, events: list[dict[str, Any]]) -> None:
        """Queue an enveloped message (sequence assigned when written); a consumer that falls too
        far behind is disconnected, as a real venue does."""
        if self.queue.qsize() >= MAX_QUEUE:
            if not self.slow:
                self.slow = True
                log.warning("ws.slow_consumer_disconnected", queued=self.queue.qsize())
                self.queue.put_nowait((_CLOSE, 1008))
            return
        self.queue.put_nowait((channel, events))

    def send_raw(self, text: str) -> None:
        """Queue a frame as-is (errors, garbage)."""
        self.queue.put_nowait(text)

    def close(self, code: int) -> None:
        """Queue a close after what is already queued."""
        self.queue.put_nowait((_CLOSE, code))

    async def writer(self) -> None:
        """Drain the queue until the socket goes away (a client vanishing is not an error)."""
        try:
            await self._write_loop()
        except (ConnectionError, RuntimeError) as exc:
            log.info("ws.writer_stopped", reason=repr(exc))

    async def _write_loop(self) -> None:
        """Send in queue order, applying sequence gaps and out-of-order swaps."""
        held: str | None = None
        while True:
            item = await self.queue.get()
            if isinstance(item, tuple) and item[0] is _CLOSE:
                await self.ws.close(code=item[1], message=b"closed by simulator")
                return
            if isinstance(item, str):
                await self.ws.send_str(item)
                continue
            assert isinstance(item, tuple)
            channel, events = item
            self.seq += self.skip
            self.skip = 0
            frame = _dumps(
                {
                    "channel": channel,
                    "client_id": "",
                    "timestamp": rfc3339(_now_ns()),
                    "sequence_num": self.seq,
                    "events": events,
                }
            )
            self.seq += 1
            if self.swap_next and held is None:
                held, self.swap_next = frame, False
                continue
            await self.ws.send_str(frame)
            self.last_sent = time.monotonic()
            if held is not None:
                await self.ws.send_str(held)
                held = None


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def _now_ns() -> int:
    return time.time_ns()


class WsHub:
    """All connections; fans venue events out to subscribers; heartbeats; WS fault injection."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.connections: set[Connection] = set()
        state.listeners.append(self.on_events)

    # -- faults --------------------------------------------------------------------------------
    def inject_gap(self, skip: int = 1) -> None:
        """Every connection's next message jumps `skip` sequence numbers."""
        for conn in self.connections:
            conn.skip += skip

    def inject_out_of_order(self) -> None:
        """Every connection's next two enveloped messages are sent swapped."""
        for conn in self.connections:
            conn.swap_next = True

    def close_all(self, code: int) -> None:
        """Server-side close of every connection with `code` (1000/1001 clean, 1011 error)."""
        for conn in self.connections:
            conn.close(code)

    def send_malformed(self, text: str = '{"channel": "l2_data", "events": [') -> None:
        """A frame that is not valid JSON, to every connection."""
        for conn in self.connections:
            conn.send_raw(text)

    # -- fan-out -------------------------------------------------------------------------------
    def on_events(self, events: VenueEvents) -> None:
        """Publish one batch of venue changes to every interested connection."""
        if not self.connections:
            return
        now = self.state.now_ns()
        traded = sorted({t.product_id for t in events.trades})
        user_orders = [o for o in events.orders if o.account_id == self.state.account_id]
        for conn in self.connections:
            for pid, changes in events.book_changes.items():
                if conn.wants("level2", pid):
                    conn.send("l2_data", m.level2_update(pid, changes, now))
            for pid in traded:
                trades = [t for t in events.trades if t.product_id == pid]
                if conn.wants("market_trades", pid):
                    conn.send("market_trades", m.trades_event("update", trades))
                if conn.wants("ticker", pid):
                    conn.send("ticker", m.ticker_event(self.state, "update", [pid]))
                if conn.wants("candles", pid):
                    conn.send("candles", m.candles_event(self.state, "update", [pid]))
            self._user(conn, user_orders)
            if events.fills and "futures_balance_summary" in conn.subs:
                summary = cfm.ws_summary(self.state)
                conn.send("futures_balance_summary", [{"type": "update", "fcm_balance_summary": summary}])

    def _user(self, conn: Connection, orders: list[Order]) -> None:
        """One update per order snapshot, in order: accepted, each cumulative fill, terminal."""
        for order in orders:
            if conn.wants("user", order.product_id):
                conn.send("user", m.user_update(self.state, [order]))

    async def heartbeat_loop(self) -> None:
        """One heartbeat per second to every connection subscribed to heartbeats (unless paused)."""
        while True:
            await asyncio.sleep(self.state.config.heartbeat_interval_s)
            self._close_idle()
            if self.state.faults.heartbeats_paused:
                continue
            now = self.state.now_ns()
            for conn in self.connections:
                if "heartbeats" in conn.subs:
                    conn.heartbeat_counter += 1
                    conn.send("heartbeats", m.heartbeat_event(conn.heartbeat_counter, now))

    def _close_idle(self) -> None:
        limit = self.state.config.idle_close_s
        now = time.monotonic()
        for conn in self.connections:
            if conn.subs and "heartbeats" not in conn.subs and now - conn.last_sent > limit:
                conn.last_sent = now  # close once
                conn.close(1000)

    # -- connection ----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One client connection: subscribe deadline, then read subscribe/unsubscribe messages."""
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Connection(ws, user_endpoint=request.path.rstrip("/").endswith("/user"))
        self.connections.add(conn)
        writer = asyncio.create_task(conn.writer())
        watchdog = asyncio.create_task(self._subscribe_deadline(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.connections.discard(conn)
            watchdog.cancel()
            await asyncio.sleep(0)  # let a queued close finish
            await cancel_and_wait([writer])
        return ws

    async def _subscribe_deadline(self, conn: Connection) -> None:
        try:
            await asyncio.wait_for(conn.subscribed.wait(), self.state.config.subscribe_timeout_s)
        except TimeoutError:
            log.info("ws.subscribe_timeout")
            conn.close(1008)

    def _error(self, conn: Connection, message: str) -> None:
        conn.send_raw(_dumps({"type": "error", "message": message}))

    def _on_text(self, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError:
            self._error(conn, "malformed message")
            return
        if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
            self._error(conn, "unknown message type")
            return
        channel = msg.get("channel")
        if not isinstance(channel, str) or channel not in CHANNELS:
            self._error(conn, "a single known channel is required per message")
            return
        if conn.user_endpoint and channel not in USER_ENDPOINT_CHANNELS:
            self._error(conn, f"channel {channel} is not available on the user endpoint")
            return
        products = msg.get("product_ids") or []
        if not isinstance(products, list) or any(p not in self.state.venue.products for p in products):
            self._error(conn, "Failed to subscribe: unknown product_id")
            return
        token = msg.get("jwt")
        authed = isinstance(token, str) and verify_jwt(
            token,
            public_key=self.state.creds.public_key,
            key_name=self.state.creds.key_name,
            uri=None,
            leeway_s=self.state.config.jwt_leeway_s,
        )
        if (channel in AUTH_CHANNELS and not authed) or (token and not authed):
            self._error(conn, "authentication failure")
            return
        if msg["type"] == "unsubscribe":
            self._unsubscribe(conn, channel, set(products))
        else:
            self._subscribe(conn, channel, set(products))
        conn.send("subscriptions", [{"subscriptions": {ch: sorted(ps) for ch, ps in conn.subs.items()}}])

    def _unsubscribe(self, conn: Connection, channel: str, products: set[str]) -> None:
        if not products or channel not in PRODUCT_CHANNELS:
            conn.subs.pop(channel, None)
            return
        conn.subs[channel] -= products
        if not conn.subs[channel]:
            conn.subs.pop(channel, None)

    def _subscribe(self, conn: Connection, channel: str, products: set[str]) -> None:
        conn.subscribed.set()
        conn.subs[channel] |= products
        state, every = self.state, products or set(self.state.venue.products)
        if channel == "level2":
            pad, state.faults.oversize_l2_bytes = state.faults.oversize_l2_bytes, 0
            for pid in sorted(every):
                conn.send("l2_data", m.level2_snapshot(state, pid, pad))
        elif channel in ("ticker", "ticker_batch"):
            conn.send(channel, m.ticker_event(state, "snapshot", sorted(every)))
        elif channel == "market_trades":
            recent = [t for pid in every for t in list(state.venue.trades[pid])[-50:]]
            conn.send("market_trades", m.trades_event("snapshot", recent))
        elif channel == "candles":
            conn.send("candles", m.candles_event(state, "snapshot", sorted(every)))
        elif channel == "status":
            conn.send("status", m.status_event(state, sorted(every)))
        elif channel == "futures_balance_summary":
            conn.send(channel, [{"type": "snapshot", "fcm_balance_summary": cfm.ws_summary(state)}])
        elif channel == "user":
            for batch in m.user_snapshots(state, products):
                conn.send("user", batch)
