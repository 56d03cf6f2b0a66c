"""Core NATS subscriptions: typed handlers, bounded buffers for market data, request handlers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import msgspec
import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from shared import codec
from shared.bus.dispatch import Outcome, Route, dispatch
from shared.tasks import cancel_and_wait

T = TypeVar("T", bound=msgspec.Struct)

REPLY_PREFIX = "_INBOX"  # also matches per-user prefixes such as _INBOX_risk.
_log = structlog.get_logger("bus")


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


async def subscribe(
    nc: NATS,
    subject: str,
    route: Route[T],
    handler: Callable[[T], Awaitable[None]],
    *,
    queue: str,
    max_pending: int | None,
    conflate: bool,
) -> Subscription:
    """A typed subscription, handled in arrival order; see `Bus.subscribe` for the buffer policies."""

    async def run(msg: Msg) -> None:
        await dispatch(route, msg, handler)

    if not conflate and max_pending is None:
        return Subscription(await nc.subscribe(subject, queue=queue, cb=run), None)
    pending: _Pending = _LatestPerSubject() if conflate else _DropOldest(max_pending or 1)
    return await _buffered(nc, subject, queue, run, route, pending)


async def _buffered(
    nc: NATS,
    subject: str,
    queue: str,
    run: Callable[[Msg], Awaitable[None]],
    route: Route[T],
    pending: _Pending,
) -> Subscription:
    """Messages wait in `pending` (which decides what a full buffer drops, counted) for one
    drain task; it yields between messages so a burst never starves the order path."""
    wake = asyncio.Event()
    holder: list[Subscription] = []

    async def enqueue(msg: Msg) -> None:
        if pending.put(msg):
            holder[0].dropped += 1
            route.stream.dropped.inc()
        wake.set()

    async def drain() -> None:
        while True:
            await wake.wait()
            wake.clear()
            while pending:
                await run(pending.pop())
                await asyncio.sleep(0)

    sub = await nc.subscribe(subject, queue=queue, cb=enqueue)
    handle = Subscription(sub, asyncio.create_task(drain(), name=f"bus-sub-{subject}"))
    holder.append(handle)
    return handle


async def serve(
    nc: NATS,
    subject: str,
    route: Route[T],
    handler: Callable[[T], Awaitable[msgspec.Struct]],
    *,
    queue: str,
    refuse: Callable[[str], msgspec.Struct] | None,
) -> Subscription:
    """Answer typed requests with the handler's return value; see `Bus.serve`."""

    async def respond(msg: Msg) -> None:
        if not msg.reply.startswith(REPLY_PREFIX):
            # A real request always carries an inbox to answer; anything else (for example a
            # JetStream push consumer pointed at this subject) is not a command and is dropped.
            route.stream.received.inc()
            route.stream.decode_errors.inc()
            _log.warning("bus_request_without_inbox", subject=msg.subject, reply=msg.reply)
            return

        async def answer(request: T) -> None:
            await msg.respond(codec.encode(await handler(request)))

        outcome, error = await dispatch(route, msg, answer)
        if outcome is Outcome.UNDECODABLE and refuse is not None:
            try:
                await msg.respond(codec.encode(refuse(str(error))))
            except Exception as exc:  # the sender is gone: nothing more to tell
                _log.warning("bus_refusal_not_sent", subject=msg.subject, error=str(exc))

    return Subscription(await nc.subscribe(subject, queue=queue, cb=respond), None)
