"""Ending asyncio tasks without swallowing the caller's own cancellation.

`with suppress(CancelledError): await task` is a trap: if the *caller* is cancelled while it
waits, the suppress eats that cancellation and the caller runs on as if nothing happened. A worker
loop stopped that way never stops (a strategy worker's teardown hung on exactly this). Waiting with
`asyncio.wait` instead lets the caller's cancellation through, and the task's own outcome is read
afterwards, synchronously, where nothing can be swallowed by accident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

_log = structlog.get_logger("tasks")


async def finished(task: asyncio.Task[object]) -> None:
    """Wait until `task` has ended, however it ended (a cancelled caller still gets cancelled)."""
    await asyncio.wait({task})


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object] | None]) -> None:
    """Cancel `tasks` and wait until every one has ended; an unexpected error of one is logged."""
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    if not live:
        return
    await asyncio.wait(live)
    for task in live:
        if not task.cancelled() and (exc := task.exception()) is not None:
            _log.warning("task_failed_while_stopping", task=task.get_name(), error=repr(exc))
