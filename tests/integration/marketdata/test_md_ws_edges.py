"""Edge cases the simulator does not stage, against a tiny scripted WS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from websockets.asyncio.server import ServerConnection, serve

from services.marketdata.config import MarketDataSettings
from services.marketdata.health import FeedHealth
from services.marketdata.processor import FeedProcessor
from services.marketdata.ws import CoinbaseWsSource
from shared.config import VenueSettings
from shared.tasks import cancel_and_wait
from shared.testing import eventually, free_port

pytestmark = pytest.mark.integration
Script = Callable[[ServerConnection, int], Awaitable[None]]


class Sink:
    """The service's `FrameSink` minus the bus: a processor and its health."""

    def __init__(self) -> None:
        self.health = FeedHealth("coinbase", ("BTC-USD",), 1_000_000_000, require_heartbeats=True)
        self.processor = FeedProcessor("coinbase", ("BTC-USD",), 10, self.health)

    def on_connected(self) -> None:
        self.health.on_connected(0)
        self.processor.on_connected()

    def on_disconnected(self, reason: str) -> None:
        self.health.on_disconnected(reason)

    async def on_frame(self, data: bytes | str, receive_ns: int) -> None:
        self.processor.process(data, receive_ns)

    def take_resync(self) -> bool:
        return self.processor.take_resync()

    def books_valid(self) -> bool:
        return self.processor.books_valid()

    def liveness_ns(self) -> int:
        return self.health.liveness_ns()


def envelope(channel: str, seq: int, events: list[dict[str, object]]) -> str:
    return json.dumps(
        {"channel": channel, "client_id": "", "timestamp": "", "sequence_num": seq, "events": events}
    )


SNAPSHOT: list[dict[str, object]] = [
    {
        "type": "snapshot",
        "product_id": "BTC-USD",
        "updates": [{"side": "bid", "price_level": "1", "new_quantity": "1"}],
    }
]


@contextlib.asynccontextmanager
async def running(script: Script, **overrides: object) -> AsyncIterator[tuple[Sink, list[list[str]]]]:
    """Serve `script` per connection; run the WS source against it; yield (sink, messages per connection)."""
    port = free_port()
    received: list[list[str]] = []

    async def handler(ws: ServerConnection) -> None:
        mine: list[str] = []
        received.append(mine)
        reader = asyncio.create_task(_read_into(ws, mine))
        try:
            await script(ws, len(received))
        finally:
            reader.cancel()

    settings = MarketDataSettings(
        venue=VenueSettings(ws_url=f"ws://127.0.0.1:{port}"),
        products="BTC-USD",
        heartbeat_timeout_s=1.0,
        reconnect_base_s=0.05,
        reconnect_max_s=0.2,
        resync_timeout_s=0.5,
        **overrides,  # type: ignore[arg-type]
    )
    sink = Sink()
    async with serve(handler, "127.0.0.1", port):
        task = asyncio.create_task(CoinbaseWsSource(settings, None, sink).run())
        try:
            yield sink, received
        finally:
            await cancel_and_wait([task])


async def _read_into(ws: ServerConnection, into: list[str]) -> None:
    with contextlib.suppress(Exception):
        async for message in ws:
            into.append(str(message))


async def test_no_snapshot_after_a_resync_leads_to_a_reconnect() -> None:
    async def script(ws: ServerConnection, _: int) -> None:
        await ws.send(envelope("l2_data", 0, SNAPSHOT))
        await ws.send(envelope("heartbeats", 5, [{"heartbeat_counter": 1}]))  # a gap
        for seq in range(6, 40):  # heartbeats keep coming, but no new snapshot ever does
            await asyncio.sleep(0.05)
            await ws.send(envelope("heartbeats", seq, [{"heartbeat_counter": seq}]))

    async with running(script) as (sink, received):
        await eventually(lambda: len(received) >= 2, timeout_s=3, what="reconnect after a failed resync")
        assert sink.health.gaps >= 1
        types = [json.loads(m)["type"] + ":" + json.loads(m)["channel"] for m in received[0]]
        assert types[:3] == ["subscribe:heartbeats", "subscribe:ticker", "subscribe:level2"]
        assert "unsubscribe:level2" in types
        assert types.count("subscribe:level2") == 2


async def test_an_unreachable_venue_is_retried_with_backoff_and_reported() -> None:
    settings = MarketDataSettings(
        venue=VenueSettings(ws_url=f"ws://127.0.0.1:{free_port()}"),
        reconnect_base_s=0.05,
        reconnect_max_s=0.1,
    )
    sink = Sink()
    source = CoinbaseWsSource(settings, None, sink)
    task = asyncio.create_task(source.run())
    try:
        await eventually(lambda: source.backoff.attempt >= 3, timeout_s=3, what="several attempts")
        assert not sink.health.connected
        assert sink.health.reason.startswith("connect failed")
    finally:
        await cancel_and_wait([task])


async def test_a_venue_that_never_sends_a_heartbeat_is_dropped_by_the_watchdog() -> None:
    async def script(ws: ServerConnection, _: int) -> None:
        await ws.send(envelope("l2_data", 0, SNAPSHOT))
        for seq in range(1, 60):  # data without heartbeats: the subscriptions are dying
            await asyncio.sleep(0.05)
            await ws.send(envelope("subscriptions", seq, [{}]))

    async with running(script) as (sink, received):
        await eventually(lambda: len(received) >= 2, timeout_s=3, what="watchdog reconnect")
        # The server sees the new connection before the client has finished its side of it.
        await eventually(lambda: sink.health.reconnects >= 1, timeout_s=3, what="counted as a reconnect")
