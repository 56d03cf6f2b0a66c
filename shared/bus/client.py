"""`Bus`: one NATS connection and everything a service does with it, each job in its own module.

It encodes msgspec Structs as msgpack, carries W3C trace context in NATS headers (handlers never
touch spans or headers), counts messages, bounds market-data subscriber queues, turns JetStream
work queues into typed handler loops that ack only after the handler succeeded, follows streams
until caught up, and types KV buckets. `js` stays public for provisioning and admin paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext, api

from shared.bus import connection, consume, publish, subscribe
from shared.bus import replay as following
from shared.bus.consume import Consumer, DeliveryInfo
from shared.bus.dispatch import Route
from shared.bus.kv import TypedKV
from shared.bus.replay import Followed, Replay
from shared.bus.subscribe import Subscription
from shared.config import NatsSettings

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)
Handler = Callable[[T], Awaitable[None]]


class Bus:
    """Typed publish / subscribe / request / work-queue consumption over one NATS connection."""

    def __init__(self, nc: NATS, service: str) -> None:
        self.nc = nc
        self.service = service
        self.js: JetStreamContext = nc.jetstream()
        self._consumers: list[Consumer] = []
        self._subscriptions: list[Subscription] = []

    # ---- connection ----
    @classmethod
    async def connect(cls, settings: NatsSettings, *, service: str) -> Bus:
        """Connect with unlimited reconnects; raise `BusUnavailableError` (not a traceback) if absent."""
        return cls(await connection.connect(settings, service=service), service)

    @property
    def is_connected(self) -> bool:
        """True while the NATS connection is up (not reconnecting, not closed)."""
        return bool(self.nc.is_connected)

    async def close(self) -> None:
        """Stop consumers, then drain subscriptions and publishes, then close."""
        for consumer in self._consumers:
            await consumer.stop()
        await connection.close(self.nc)

    # ---- core NATS ----
    async def publish(
        self,
        subject: str,
        message: msgspec.Struct,
        *,
        traced: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Fire-and-forget publish. Market data passes `traced=False` (no per-tick trace cost)."""
        await publish.publish(self.nc, subject, message, traced=traced, headers=headers)

    async def subscribe(
        self,
        subject: str,
        message_type: type[T],
        handler: Handler[T],
        *,
        queue: str = "",
        traced: bool = True,
        max_pending: int | None = None,
        conflate: bool = False,
    ) -> Subscription:
        """Subscribe with a typed handler.

        With `max_pending`, messages wait in a bounded queue that drops the *oldest* when full
        (for market data the newest quote matters most) and counts every drop. With `conflate`
        (quotes: each one replaces the last), a handler that falls behind finds only the newest
        message of each subject waiting: its backlog never outgrows the number of products, so a
        burst of ticks cannot delay an order path sharing the event loop.
        """
        route = Route(subject, message_type, traced=traced)
        handle = await subscribe.subscribe(
            self.nc, subject, route, handler, queue=queue, max_pending=max_pending, conflate=conflate
        )
        self._subscriptions.append(handle)
        await self._registered()
        return handle

    async def _registered(self) -> None:
        """Wait until the server has the new interest (a PING round trip after the SUB), so that
        whatever is published after `subscribe` returns is delivered — nats-py only queues the SUB.
        While disconnected there is nothing to wait for: the client resubscribes on reconnect."""
        if not self.nc.is_connected:
            return
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self.nc.flush(timeout=2)

    async def request(
        self, subject: str, message: msgspec.Struct, reply_type: type[R], *, timeout: float = 2.0
    ) -> R:
        """Request/reply with a typed answer; raises `TimeoutError` or `nats.errors.NoRespondersError`."""
        return await publish.request(self.nc, subject, message, reply_type, timeout=timeout)

    async def serve(
        self,
        subject: str,
        request_type: type[T],
        handler: Callable[[T], Awaitable[msgspec.Struct]],
        *,
        queue: str = "",
        refuse: Callable[[str], msgspec.Struct] | None = None,
    ) -> Subscription:
        """Answer typed requests; the handler's return value is the reply. A request that does not
        decode is dropped, or answered with `refuse(error)` when given, so its sender hears why
        instead of waiting for a timeout."""
        route = Route(subject, request_type, server=True)
        handle = await subscribe.serve(self.nc, subject, route, handler, queue=queue, refuse=refuse)
        self._subscriptions.append(handle)
        return handle

    # ---- JetStream ----
    async def publish_durable(
        self,
        subject: str,
        message: msgspec.Struct,
        *,
        msg_id: str | None = None,
        traced: bool = True,
        timeout: float = 5.0,
    ) -> api.PubAck:
        """Publish to a stream and wait for the ack. With `msg_id`, a repeat within the stream's
        duplicate window is stored once (the ack then says `duplicate=True`)."""
        return await publish.publish_durable(
            self.js, subject, message, msg_id=msg_id, traced=traced, timeout=timeout
        )

    async def consume(
        self,
        *,
        stream: str,
        durable: str,
        subject: str,
        message_type: type[T],
        handler: Callable[[T, DeliveryInfo], Awaitable[None]],
        extra_subjects: tuple[str, ...] = (),
        new_only: bool = False,
        batch: int = 16,
        ack_wait_s: float = 30.0,
        max_deliver: int = -1,
        retry_delay_s: float = 1.0,
    ) -> Consumer:
        """Run a durable pull consumer: ack after the handler returns, nak (with delay) if it raises,
        terminate undecodable messages (they would poison the queue forever).

        `extra_subjects` widens the filter (NATS 2.10 multi-filter consumers), e.g. one durable per
        strategy instance over the fills of each of its products. `new_only` starts a *new* durable
        at the stream's end instead of its beginning (an existing durable always resumes)."""
        consumer = await consume.consume(
            self.js,
            stream=stream,
            durable=durable,
            subject=subject,
            message_type=message_type,
            handler=handler,
            extra_subjects=extra_subjects,
            new_only=new_only,
            batch=batch,
            ack_wait_s=ack_wait_s,
            max_deliver=max_deliver,
            retry_delay_s=retry_delay_s,
        )
        self._consumers.append(consumer)
        return consumer

    async def consumer_backlog(self, stream: str, durable: str) -> int:
        """Messages a durable has yet to deliver or to see acked (0: it is idle)."""
        return await consume.backlog(self.js, stream, durable)

    async def follow(
        self,
        subject: str,
        message_type: type[T],
        handler: Handler[T],
        *,
        from_start: bool = True,
        latest_only: bool = False,
        traced: bool = False,
        replay: Replay | None = None,
    ) -> Followed:
        """Replay a stream from its first message (or the last of each subject: `latest_only`),
        then keep following it live. The handle's `replay` counts deliveries against what the
        stream held at the start: `caught_up` / `wait_caught_up(timeout)` tell when the history
        is in, `current()` whether everything stored by now is. Pass a `replay` made beforehand
        when the handler must consult it from its first call."""
        route = Route(subject, message_type, traced=traced)
        handle = await following.follow(
            self.js,
            subject,
            route,
            handler,
            from_start=from_start,
            latest_only=latest_only,
            replay=replay,
        )
        self._subscriptions.append(handle)
        return handle

    async def stored(self, subject: str, *, latest_only: bool = False) -> int:
        """How many messages JetStream holds on `subject` now (one per subject: `latest_only`)."""
        return await following.stored(self.js, subject, latest_only=latest_only)

    # ---- KV ----
    async def kv(self, bucket: str, value_type: type[T]) -> TypedKV[T]:
        """A typed view of a KV bucket that `provision()` created."""
        return TypedKV(await self.js.key_value(bucket), value_type)

    async def kv_raw(self, bucket: str) -> Any:
        """The untyped bucket, for watchers and mirrors that keep raw bytes (`KvMirror`) or decode
        leniently themselves (strategy specs)."""
        return await self.js.key_value(bucket)
