"""The harness's own fakes: a stopped `FakeWorker` stops, even when the cancel that stops it is
lost on the way (nats-py requests lose one that lands as their reply arrives, on Python 3.11)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.bus import Bus
from shared.tasks import cancel_and_wait
from shared.testing import eventually

from .helpers import FakeWorker

pytestmark = pytest.mark.integration


class RepliedAsStopped(FakeWorker):
    """A worker whose next status, once it beats, waits in `asyncio.wait_for` for a reply the test
    delivers in the same step as the cancel of `stop()`, as a nats-py request waits for its reply.
    Python 3.11's `wait_for` then returns the reply, and the cancellation is lost."""

    def __init__(self, bus: Bus, sid: str) -> None:
        super().__init__(bus, sid, "halted", "boom")
        self.reply: asyncio.Future[None] | None = None

    async def publish_status(self) -> None:
        if self._task is not None and self.reply is None:
            self.reply = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self.reply, 5)
        await super().publish_status()


async def test_a_worker_stops_when_the_cancel_that_stops_it_is_lost(bus: Bus) -> None:
    worker = await RepliedAsStopped(bus, f"beat-{uuid.uuid4().hex[:6]}").start()
    await eventually(lambda: worker.reply is not None, what="the beat waiting for its reply")
    assert worker.reply is not None
    worker.reply.set_result(None)
    # Waited on with `asyncio.wait`, which cancels nothing: a timeout that cancelled `stop()` would
    # cancel the beat again too, and hide a stop that never ends by itself.
    stopping = asyncio.create_task(worker.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    await cancel_and_wait([stopping])
    assert stopping in done, "stop() waits for a beat that runs on"
