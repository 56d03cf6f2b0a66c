"""Stopping tasks: the caller's own cancellation is never swallowed while it waits."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from shared.tasks import cancel_and_wait, finished, within


async def _slow_to_stop() -> None:
    """A task that needs a moment to wind down after it is cancelled (a final snapshot, say)."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(0.2)
        raise


async def _cancelled_while_waiting(wait: object) -> asyncio.Task[None]:
    inner = asyncio.create_task(_slow_to_stop())
    await asyncio.sleep(0)

    async def stopper() -> None:
        await wait(inner)  # type: ignore[operator]
        await asyncio.sleep(3600)  # a caller that swallowed its cancellation would run on to here

    outer = asyncio.create_task(stopper())
    await asyncio.sleep(0.05)
    outer.cancel()
    await asyncio.wait({outer}, timeout=2)
    return outer


async def test_the_suppress_pattern_swallows_the_callers_cancellation() -> None:
    """Why the helpers exist: the old pattern leaves a cancelled caller running."""

    async def old(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    outer = await _cancelled_while_waiting(old)
    assert not outer.done()
    outer.cancel()


@pytest.mark.parametrize("wait", [lambda t: cancel_and_wait([t]), finished])
async def test_a_cancelled_caller_is_cancelled(wait: object) -> None:
    outer = await _cancelled_while_waiting(wait)
    assert outer.cancelled()


async def test_cancel_and_wait_ends_every_task_and_tolerates_none() -> None:
    tasks = [asyncio.create_task(asyncio.sleep(3600)) for _ in range(3)]
    await cancel_and_wait([*tasks, None])
    assert all(t.cancelled() for t in tasks)
    await cancel_and_wait([])


async def test_an_error_while_stopping_is_retrieved_not_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("final write failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    await cancel_and_wait([task])
    assert isinstance(task.exception(), RuntimeError)


async def _swallows_cancellation(release: asyncio.Event) -> None:
    """Like nats-py's drain(): a cancellation is caught and it carries on waiting."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await release.wait()


async def test_within_gives_up_on_work_that_swallows_its_cancellation() -> None:
    release = asyncio.Event()
    started = time.monotonic()
    assert not await within(_swallows_cancellation(release), 0.1)
    assert time.monotonic() - started < 2  # asyncio.wait_for would wait here until `release`
    release.set()
    await asyncio.sleep(0)


async def test_within_reports_success_and_failure() -> None:
    assert await within(asyncio.sleep(0), 1)

    async def fails() -> None:
        raise RuntimeError("no")

    assert not await within(fails(), 1)


async def test_a_lost_cancellation_is_repeated_until_the_task_ends() -> None:
    """A loop that loses one cancellation (Python 3.11 wait_for race, a library turning it into
    an error) must still be stoppable."""
    lost = 0

    async def loop() -> None:
        nonlocal lost
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost += 1  # the first one is swallowed, as a careless `except Exception` would

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task], recancel_s=0.05), 5)
    assert task.cancelled()
    assert lost == 1
