"""Ending asyncio tasks without swallowing the caller's own cancellation.

`with suppress(CancelledError): await task` is a trap: if the *caller* is cancelled while it
waits, the suppress eats that cancellation and the caller runs on as if nothing happened. A worker
loop stopped that way never stops (a strategy worker's teardown hung on exactly this). Waiting with
`asyncio.wait` instead lets the caller's cancellation through, and the task's own outcome is read
afterwards, synchronously, where nothing can be swallowed by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable

import structlog

_log = structlog.get_logger("tasks")


async def finished(task: asyncio.Task[object], *ignore: type[BaseException]) -> None:
    """Wait until `task` has ended (a cancelled caller still gets cancelled), then raise its error
    unless it was cancelled or the error is one of `ignore`."""
    await asyncio.wait({task})
    with contextlib.suppress(asyncio.CancelledError, *ignore):
        task.result()


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object] | None], *, recancel_s: float = 1.0) -> None:
    """Cancel `tasks` and wait until every one has ended; an unexpected error of one is logged.

    A cancellation can be lost on Python 3.11 (`asyncio.wait_for` returns the result of an inner
    future that completed at the same moment, dropping the cancel; some libraries turn it into an
    ordinary error), and a loop that lost it runs on for ever. So a task still running after
    `recancel_s` is cancelled again, and again, until it ends."""
    live = [t for t in tasks if t is not None]
    pending = {t for t in live if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=recancel_s)
        for task in pending:
            _log.warning("task_cancelled_again", task=task.get_name())
    for task in live:
        if not task.cancelled() and (exc := task.exception()) is not None:
            _log.warning("task_failed_while_stopping", task=task.get_name(), error=repr(exc))


async def within(awaitable: Awaitable[object], timeout_s: float) -> bool:
    """Run `awaitable` for at most `timeout_s`; True if it ended in time without an error.

    For third-party code that swallows a cancellation (nats-py's `drain()` does), where
    `asyncio.wait_for` would wait for the cancelled work forever: here it is asked to stop and
    left to end on its own, and its outcome is collected whenever that happens."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if task not in done:
        task.cancel()
        task.add_done_callback(_collect)
        return False
    return not task.cancelled() and task.exception() is None


def _collect(task: asyncio.Future[object]) -> None:
    """Retrieve an abandoned task's outcome (so asyncio does not report it as never retrieved)."""
    if not task.cancelled():
        task.exception()
