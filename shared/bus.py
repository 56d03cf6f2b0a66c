"""The typed NATS bus: the one wrapper every publish and consume goes through.

It encodes msgspec Structs as msgpack, carries W3C trace context in NATS headers (handlers never
touch spans or headers), counts messages, bounds market-data subscriber queues (dropping the
oldest message and counting it), and turns JetStream work queues into typed handler loops that
ack only after the handler succeeded.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import JetStreamContext, api
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from shared import codec, metrics
from shared.config import NatsSettings
from shared.errors import BusUnavailableError, RetryLaterError
from shared.tasks import cancel_and_wait, finished, within

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)
Handler = Callable[[T], Awaitable[None]]

MSG_ID_HEADER = "Nats-Msg-Id"
REPLY_PREFIX = "_INBOX"  # also matches per-user prefixes such as _INBOX_risk.
_log = structlog.get_logger("bus")
_tracer = trace.get_tracer("algopioneer.bus")


class DeliveryInfo(msgspec.Struct, frozen=True):
    """What a work-queue handler may need to know about the delivery (redeliveries in particular)."""

    subject: str
    num_delivered: int
    stream_sequence: int
    msg_id: str


def _trace_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """Inject the current trace context (if any) into the outgoing headers."""
    carrier: dict[str, str] = dict(headers) if headers else {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier


class Subscription:
    """A live subscription; `dropped` counts messages discarded because the handler fell behind."""

    def __init__(self, sub: NatsSubscription, worker: asyncio.Task[None] | None) -> None:
        self._sub = sub
        self._worker = worker
        self.dropped = 0

    async def unsubscribe(self) -> None:
        """Stop receiving; a pending bounded worker is cancelled."""
        with contextlib.suppress(nats.errors.ConnectionClosedError, nats.errors.BadSubscriptionError):
            await self._sub.unsubscribe()
        await cancel_and_wait([self._worker])


class Consumer:
    """A running durable pull-consumer loop; `stop()` lets the message in hand finish first."""

    def __init__(self, psub: JetStreamContext.PullSubscription) -> None:
        self._psub = psub
        self.stopping = asyncio.Event()
        self.busy = False
        self.task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        """Finish the message in hand (never cut a handler short), then stop fetching."""
        self.stopping.set()
        if self.task is not None:
            if not self.busy:
                self.task.cancel()
            await finished(self.task)
        with contextlib.suppress(Exception):
            await self._psub.unsubscribe()


class _Pending(Protocol):
    """What waits for a subscription's drain task."""

    def put(self, msg: Msg) -> bool:
        """Add `msg`; True when a waiting message was dropped for it."""
        ...

    def pop(self) -> Msg:
        """The next message to handle."""
        ...

    def __len__(self) -> int: ...


class _DropOldest:
    """A bounded queue: when full, the oldest message goes (a deque with `maxlen` does that)."""

    def __init__(self, bound: int) -> None:
        self._queue: collections.deque[Msg] = collections.deque(maxlen=bound)

    def put(self, msg: Msg) -> bool:
        full = len(self._queue) == self._queue.maxlen
        self._queue.append(msg)
        return full

    def pop(self) -> Msg:
        return self._queue.popleft()

    def __len__(self) -> int:
        return len(self._queue)


class _LatestPerSubject:
    """Only the newest message of each subject waits (quotes: each replaces the last)."""

    def __init__(self) -> None:
        self._latest: dict[str, Msg] = {}

    def put(self, msg: Msg) -> bool:
        replaced = self._latest.pop(msg.subject, None) is not None
        self._latest[msg.subject] = msg  # re-inserted last: subjects take turns, oldest first
        return replaced

    def pop(self) -> Msg:
        return self._latest.pop(next(iter(self._latest)))

    def __len__(self) -> int:
        return len(self._latest)


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

        async def on_disconnect() -> None:
            metrics.BUS_CONNECTED.set(0)
            _log.warning("nats_disconnected")

        async def on_reconnect() -> None:
            metrics.BUS_CONNECTED.set(1)
            _log.info("nats_reconnected")

        async def on_error(exc: Exception) -> None:
            _log.warning("nats_error", error=str(exc), error_type=type(exc).__name__)

        options: dict[str, Any] = {
            "servers": [u.strip() for u in settings.url.split(",")],
            "name": service,
            "connect_timeout": settings.connect_timeout_s,
            "reconnect_time_wait": settings.reconnect_wait_s,
            "max_reconnect_attempts": settings.max_reconnect_attempts,
            "allow_reconnect": True,
            "disconnected_cb": on_disconnect,
            "reconnected_cb": on_reconnect,
            "error_cb": on_error,
            "drain_timeout": 5,  # nats-py gives up draining by itself too (its default is 30 s)
        }
        if settings.user:
            options["user"] = settings.user
            options["password"] = settings.password
        if settings.creds_file:
            options["user_credentials"] = settings.creds_file
        try:
            nc = await asyncio.wait_for(nats.connect(**options), timeout=settings.connect_timeout_s * 2 + 1)
        except (OSError, TimeoutError, nats.errors.NoServersError, nats.errors.Error) as exc:
            why = str(exc) or f"no server answered within {settings.connect_timeout_s * 2 + 1:g}s"
            raise BusUnavailableError(f"cannot reach NATS at {settings.url}: {why}") from None
        metrics.BUS_CONNECTED.set(1)
        return cls(nc, service)

    @property
    def is_connected(self) -> bool:
        """True while the NATS connection is up (not reconnecting, not closed)."""
        return bool(self.nc.is_connected)

    async def close(self) -> None:
        """Stop consumers, then drain subscriptions and publishes, then close."""
        for consumer in self._consumers:
            await consumer.stop()
        if self.nc.is_closed:
            return
        # Never `wait_for` here: nats-py's drain() swallows the cancellation, and wait_for would
        # then wait for it forever. Whatever does not end in time is closed under it.
        if not await within(self.nc.drain(), 5):
            await within(self.nc.close(), 5)  # bounded too: a close mid-reconnect can hang
        metrics.BUS_CONNECTED.set(0)

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
        hdrs = _trace_headers(headers) if traced else headers
        await self.nc.publish(subject, codec.encode(message), headers=hdrs or None)
        metrics.published(subject).inc()

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
        label = metrics.stream_label(subject)
        stream = metrics.StreamMetrics(label)
        run = self._traced_runner(label, message_type, handler, traced)
        if conflate or max_pending is not None:
            pending: _Pending = _LatestPerSubject() if conflate else _DropOldest(max_pending or 1)
            handle = await self._buffered(subject, queue, run, stream, pending)
        else:

            async def direct(msg: Msg) -> None:
                await run(msg)

            handle = Subscription(await self.nc.subscribe(subject, queue=queue, cb=direct), None)
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

    async def _buffered(
        self,
        subject: str,
        queue: str,
        run: Callable[[Msg], Awaitable[None]],
        stream: metrics.StreamMetrics,
        pending: _Pending,
    ) -> Subscription:
        """Messages wait in `pending` (which decides what a full buffer drops, counted) for one
        drain task; it yields between messages so a burst never starves the order path."""
        wake = asyncio.Event()
        holder: list[Subscription] = []

        async def enqueue(msg: Msg) -> None:
            if pending.put(msg):
                holder[0].dropped += 1
                stream.dropped.inc()
            wake.set()

        async def drain() -> None:
            while True:
                await wake.wait()
                wake.clear()
                while pending:
                    await run(pending.pop())
                    await asyncio.sleep(0)

        sub = await self.nc.subscribe(subject, queue=queue, cb=enqueue)
        handle = Subscription(sub, asyncio.create_task(drain(), name=f"bus-sub-{subject}"))
        holder.append(handle)
        return handle

    def _traced_runner(
        self,
        label: str,
        message_type: type[T],
        handler: Handler[T],
        traced: bool,
        on_skipped: Callable[[], None] | None = None,
    ) -> Callable[[Msg], Awaitable[None]]:
        """Decode → (span) → handler, counting and isolating failures so one bad message is skipped
        (and reported to `on_skipped`, so whoever counts deliveries still counts it)."""
        stream = metrics.StreamMetrics(label)

        async def run(msg: Msg) -> None:
            stream.received.inc()
            try:
                decoded = codec.decode(msg.data, message_type)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                stream.decode_errors.inc()
                _log.warning("bus_decode_error", subject=msg.subject, error=str(exc))
                if on_skipped is not None:
                    on_skipped()
                return
            started = time.perf_counter()
            try:
                if traced:
                    parent = propagate.extract(msg.headers or {})
                    with _tracer.start_as_current_span(
                        f"process {label}",
                        context=parent,
                        kind=SpanKind.CONSUMER,
                        attributes={"messaging.system": "nats", "messaging.destination.name": msg.subject},
                    ):
                        await handler(decoded)
                else:
                    await handler(decoded)
            except Exception as exc:
                stream.handler_errors.inc()
                _log.exception("bus_handler_error", subject=msg.subject, error=str(exc))
            finally:
                stream.handler_seconds.observe(time.perf_counter() - started)

        return run

    async def request(
        self, subject: str, message: msgspec.Struct, reply_type: type[R], *, timeout: float = 2.0
    ) -> R:
        """Request/reply with a typed answer; raises `TimeoutError` or `nats.errors.NoRespondersError`."""
        reply = await self.nc.request(
            subject, codec.encode(message), timeout=timeout, headers=_trace_headers(None)
        )
        return codec.decode(reply.data, reply_type)

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
        label = metrics.stream_label(subject)

        async def respond(msg: Msg) -> None:
            metrics.BUS_RECEIVED.labels(label).inc()
            if not msg.reply.startswith(REPLY_PREFIX):
                # A real request always carries an inbox to answer; anything else (for example a
                # JetStream push consumer pointed at this subject) is not a command and is dropped.
                metrics.BUS_DECODE_ERRORS.labels(label).inc()
                _log.warning("bus_request_without_inbox", subject=msg.subject, reply=msg.reply)
                return
            try:
                request = codec.decode(msg.data, request_type)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                metrics.BUS_DECODE_ERRORS.labels(label).inc()
                _log.warning("bus_decode_error", subject=msg.subject, error=str(exc))
                if refuse is not None:
                    try:
                        await msg.respond(codec.encode(refuse(str(exc))))
                    except Exception as error:  # the sender is gone: nothing more to tell
                        _log.warning("bus_refusal_not_sent", subject=msg.subject, error=str(error))
                return
            token = otel_context.attach(propagate.extract(msg.headers or {}))
            try:
                with _tracer.start_as_current_span(f"serve {label}", kind=SpanKind.SERVER):
                    reply = await handler(request)
                await msg.respond(codec.encode(reply))
            except Exception as exc:
                metrics.BUS_HANDLER_ERRORS.labels(label).inc()
                _log.exception("bus_handler_error", subject=msg.subject, error=str(exc))
            finally:
                otel_context.detach(token)

        sub = await self.nc.subscribe(subject, queue=queue, cb=respond)
        handle = Subscription(sub, None)
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
        headers: dict[str, str] = {MSG_ID_HEADER: msg_id} if msg_id else {}
        hdrs = _trace_headers(headers) if traced else headers
        ack = await self.js.publish(subject, codec.encode(message), timeout=timeout, headers=hdrs or None)
        metrics.published(subject).inc()
        return ack

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
        filters = [subject, *extra_subjects]
        config = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.NEW if new_only else api.DeliverPolicy.ALL,
            ack_wait=ack_wait_s,
            max_deliver=max_deliver,
            filter_subject=subject if not extra_subjects else None,
            filter_subjects=filters if extra_subjects else None,
        )
        psub = await self.js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        label = metrics.stream_label(subject)
        consumer = Consumer(psub)

        async def handle(msg: Msg) -> None:
            metrics.BUS_RECEIVED.labels(label).inc()
            try:
                decoded = codec.decode(msg.data, message_type)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                metrics.BUS_DECODE_ERRORS.labels(label).inc()
                _log.error("bus_poison_message", subject=msg.subject, error=str(exc))
                await msg.term()
                return
            meta = msg.metadata
            info = DeliveryInfo(
                subject=msg.subject,
                num_delivered=meta.num_delivered,
                stream_sequence=meta.sequence.stream,
                msg_id=(msg.headers or {}).get(MSG_ID_HEADER, ""),
            )
            parent = propagate.extract(msg.headers or {})
            try:
                with _tracer.start_as_current_span(
                    f"process {label}",
                    context=parent,
                    kind=SpanKind.CONSUMER,
                    attributes={"messaging.system": "nats", "messaging.destination.name": msg.subject},
                ):
                    await handler(decoded, info)
            except RetryLaterError as later:
                _log.info("bus_retry_later", subject=msg.subject, reason=later.reason)
                with contextlib.suppress(Exception):
                    await msg.nak(delay=later.delay_s)
                return
            except Exception as exc:
                metrics.BUS_HANDLER_ERRORS.labels(label).inc()
                _log.exception("bus_handler_error", subject=msg.subject, error=str(exc))
                with contextlib.suppress(Exception):
                    await msg.nak(delay=retry_delay_s)
                return
            await msg.ack()

        async def loop() -> None:
            while not consumer.stopping.is_set():
                try:
                    msgs = await psub.fetch(batch, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
                    return
                except nats.errors.Error as exc:
                    _log.warning("bus_fetch_error", subject=subject, error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                consumer.busy = True
                try:
                    for msg in msgs:
                        await handle(msg)
                finally:
                    consumer.busy = False

        consumer.task = asyncio.create_task(loop(), name=f"bus-consume-{durable}")
        self._consumers.append(consumer)
        return consumer

    async def follow(
        self,
        subject: str,
        message_type: type[T],
        handler: Handler[T],
        *,
        from_start: bool = True,
        latest_only: bool = False,
        traced: bool = False,
        on_skipped: Callable[[], None] | None = None,
    ) -> Subscription:
        """Replay a stream from its first message, then keep following it live (ordered consumer).

        This is how state is rebuilt after a restart (the ledger from `fills.>`): nothing is acked,
        nothing is shared, and every start sees the whole history again. An undecodable message is
        counted, logged and skipped; `on_skipped` hears of it, so a caller that counts replayed
        messages to know when history is complete is not left waiting for it forever.
        """
        label = metrics.stream_label(subject)
        run = self._traced_runner(label, message_type, handler, traced, on_skipped)

        async def on_message(msg: Msg) -> None:
            await run(msg)

        if latest_only:  # the last message of each subject, then live (a last-value stream)
            policy = api.DeliverPolicy.LAST_PER_SUBJECT
        else:
            policy = api.DeliverPolicy.ALL if from_start else api.DeliverPolicy.NEW
        sub = await self.js.subscribe(subject, cb=on_message, ordered_consumer=True, deliver_policy=policy)
        handle = Subscription(sub, None)
        self._subscriptions.append(handle)
        return handle

    async def kv(self, bucket: str, value_type: type[T]) -> TypedKV[T]:
        """A typed view of a KV bucket that `provision()` created."""
        return TypedKV(await self.js.key_value(bucket), value_type)


class KVEntry(msgspec.Struct, Generic[T], frozen=True):
    """A decoded value and the revision to compare-and-set against."""

    value: T
    revision: int


class TypedKV(Generic[T]):
    """A KV bucket whose values are one msgspec type."""

    def __init__(self, kv: Any, value_type: type[T]) -> None:
        self._kv = kv
        self._type = value_type

    async def get(self, key: str) -> KVEntry[T] | None:
        """The current value, or None when the key is absent or deleted."""
        try:
            entry = await self._kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        return KVEntry(value=codec.decode(entry.value, self._type), revision=entry.revision)

    async def get_many(self, keys: list[str], *, window: int = 256) -> list[KVEntry[T] | None]:
        """`get` of every key, in order, with up to `window` requests in flight: reading N records
        costs about N / `window` round trips instead of N (reconciliation reads every paper order
        record each cycle, and their number only grows)."""
        out: list[KVEntry[T] | None] = []
        for start in range(0, len(keys), window):
            out += await asyncio.gather(*(self.get(key) for key in keys[start : start + window]))
        return out

    async def put(self, key: str, value: T) -> int:
        """Unconditional write; returns the new revision."""
        return int(await self._kv.put(key, codec.encode(value)))

    async def create(self, key: str, value: T) -> int:
        """Write only if absent; raises `nats.js.errors.KeyWrongLastSequenceError` otherwise."""
        return int(await self._kv.create(key, codec.encode(value)))

    async def update(self, key: str, value: T, *, last: int) -> int:
        """Compare-and-set on revision; raises `nats.js.errors.KeyWrongLastSequenceError` if stale."""
        return int(await self._kv.update(key, codec.encode(value), last=last))

    async def delete(self, key: str, *, last: int | None = None) -> None:
        """Remove a key (a tombstone stays in history); with `last`, only if still at that revision."""
        await self._kv.delete(key, last=last)

    async def keys(self, timeout_s: float = 10.0) -> list[str]:
        """Every live key; empty when the bucket is empty. Bounded: nats-py's own `keys()` waits
        for its watcher without a timeout, so a lost end-of-keys marker would hang the caller."""
        try:
            return list(await asyncio.wait_for(self._kv.keys(), timeout_s))
        except nats.js.errors.NoKeysError:
            return []
