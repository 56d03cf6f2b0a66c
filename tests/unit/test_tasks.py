"""Stopping tasks: the caller's own cancellation is never swallowed while it waits."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shared.tasks import cancel_and_wait, finished


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
