"""Following a stream from its start, and knowing when its history is in.

State is rebuilt after a restart by replaying a stream (the ledger from `fills.>`) and then
following it live, in stream order, through an ephemeral ordered consumer: nothing is acked,
nothing is shared, every start sees the whole history again. Counting the messages the stream held
when the replay began tells which deliveries are history and which are live: the first `expected`
are history. Every delivery counts, an undecodable one too, or the replay would never end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import JetStreamContext, api

from shared.bus.dispatch import Route, dispatch
from shared.bus.subscribe import Subscription

T = TypeVar("T", bound=msgspec.Struct)


class Replay:
    """Counts deliveries of one followed stream; `caught_up` is set once the history was seen."""

    def __init__(self, name: str, expected: int) -> None:
        self.name = name
        self.expected = expected
        self.seen = 0
        self.caught_up = asyncio.Event()
        if expected <= 0:
            self.caught_up.set()

    def step(self) -> bool:
        """Count one delivery; True when it is live (past the history)."""
        self.seen += 1
        if self.seen >= self.expected:
            self.caught_up.set()
        return self.seen > self.expected

    def give_up(self) -> None:
        """Treat what was seen as the whole history (for streams a caller can decide without)."""
        self.expected = self.seen
        self.caught_up.set()

    @property
    def delivery_is_live(self) -> bool:
        """For a handler: the delivery in hand (counted once handled) comes after the history."""
        return self.seen >= self.expected

    @property
    def live(self) -> bool:
        """True once the history has been replayed."""
        return self.caught_up.is_set()

    def progress(self) -> str:
        """`seen/expected`, for `/ready` details and errors."""
        return f"{min(self.seen, self.expected)}/{self.expected}"

    async def wait_caught_up(self, timeout_s: float) -> None:
        """Wait for the history; `TimeoutError` naming how far it got when it does not come."""
        await wait_all([self], timeout_s)


async def wait_all(replays: list[Replay], timeout_s: float) -> None:
    """Wait until every replay caught up; raise `TimeoutError` naming the ones that did not."""
    try:
        await asyncio.wait_for(asyncio.gather(*(r.caught_up.wait() for r in replays)), timeout=timeout_s)
    except TimeoutError:
        behind = ", ".join(f"{r.name} {r.progress()}" for r in replays if not r.live)
        raise TimeoutError(f"replay did not catch up within {timeout_s}s: {behind}") from None


async def stored(js: JetStreamContext, subject: str, *, latest_only: bool = False) -> int:
    """How many messages JetStream holds now on `subject` (one per subject when `latest_only`)."""
    stream = await js.find_stream_name_by_subject(subject)
    info = await js.stream_info(stream, subjects_filter=subject)
    counts = info.state.subjects or {}
    return len(counts) if latest_only else sum(counts.values())


class Followed(Subscription):
    """A followed stream: a subscription with its `replay` count (see `Bus.follow`)."""

    def __init__(self, sub: NatsSubscription, replay: Replay, count: Callable[[], Awaitable[int]]) -> None:
        super().__init__(sub, None)
        self.replay = replay
        self._count = count
        self.offset = 0
        """Messages stored before a live-only follow began (they are never delivered)."""

    @property
    def caught_up(self) -> asyncio.Event:
        """Set once the history held at the start has been delivered."""
        return self.replay.caught_up

    async def wait_caught_up(self, timeout_s: float) -> None:
        """Wait for the history held at the start; `TimeoutError` when it does not come in time."""
        await self.replay.wait_caught_up(timeout_s)

    async def current(self) -> bool:
        """True when every message JetStream holds *now* has been delivered (a stream that keeps
        growing is caught up again and again: reconciliation asks before each comparison)."""
        return self.replay.seen + self.offset >= await self._count()


async def follow(
    js: JetStreamContext,
    subject: str,
    route: Route[T],
    handler: Callable[[T], Awaitable[None]],
    *,
    from_start: bool,
    latest_only: bool,
    replay: Replay | None,
) -> Followed:
    """Count the history, then subscribe an ordered consumer that hands each delivery to `handler`
    and then counts it (an undecodable one too); see `Bus.follow`."""

    async def count() -> int:
        return await stored(js, subject, latest_only=latest_only)

    replays_history = from_start or latest_only
    if replay is None:
        replay = Replay(subject, await count() if replays_history else 0)
    offset = 0 if replays_history else await count()
    counter = replay

    async def on_message(msg: Msg) -> None:
        await dispatch(route, msg, handler)
        counter.step()  # once handled: whoever waits for `caught_up` finds its effect in place

    if latest_only:  # the last message of each subject, then live (a last-value stream)
        policy = api.DeliverPolicy.LAST_PER_SUBJECT
    else:
        policy = api.DeliverPolicy.ALL if from_start else api.DeliverPolicy.NEW
    sub = await js.subscribe(subject, cb=on_message, ordered_consumer=True, deliver_policy=policy)
    handle = Followed(sub, replay, count)
    handle.offset = offset
    return handle
