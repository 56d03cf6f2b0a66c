"""Knowing when a replayed stream has caught up, so risk never decides on a half-rebuilt state.

`Bus.follow` replays a stream from its first message and then keeps following it live, in stream
order. Counting the messages the stream held when the replay began tells which deliveries are history
and which are live: the first `expected` are history.
"""

from __future__ import annotations

import asyncio

from shared.bus import Bus


class Replay:
    """Counts deliveries of one followed stream; `done` is set once the history has been seen."""

    def __init__(self, name: str, expected: int) -> None:
        self.name = name
        self.expected = expected
        self.seen = 0
        self.done = asyncio.Event()
        if expected <= 0:
            self.done.set()

    @classmethod
    async def of_stream(cls, bus: Bus, stream: str) -> Replay:
        """A replay expecting every message the stream holds now."""
        info = await bus.js.stream_info(stream)
        return cls(stream, int(info.state.messages))

    def step(self) -> bool:
        """Count one delivery; True when it is live (past the history)."""
        self.seen += 1
        if self.seen >= self.expected:
            self.done.set()
        return self.seen > self.expected

    def skip(self) -> None:
        """Count a delivery that could not be decoded (it was logged and counted by the bus)."""
        self.step()

    def give_up(self) -> None:
        """Treat what was seen as the whole history (for streams risk can decide without)."""
        self.expected = self.seen
        self.done.set()

    @property
    def live(self) -> bool:
        """True once the history has been replayed."""
        return self.done.is_set()

    def progress(self) -> str:
        """`seen/expected`, for `/ready` details and errors."""
        return f"{min(self.seen, self.expected)}/{self.expected}"


async def wait_all(replays: list[Replay], timeout_s: float) -> None:
    """Wait until every replay caught up; raise `TimeoutError` naming the ones that did not."""
    try:
        await asyncio.wait_for(asyncio.gather(*(r.done.wait() for r in replays)), timeout=timeout_s)
    except TimeoutError:
        behind = ", ".join(f"{r.name} {r.progress()}" for r in replays if not r.live)
        raise TimeoutError(f"replay did not catch up within {timeout_s}s: {behind}") from None
