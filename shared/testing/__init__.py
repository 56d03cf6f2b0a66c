"""Test helpers that are part of the code: polling instead of sleeps, free ports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from shared.net import free_port

__all__ = ["eventually", "free_port"]

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout_s: float = ..., interval_s: float = ..., what: str = ...
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T], *, timeout_s: float = ..., interval_s: float = ..., what: str = ...
) -> T: ...


async def eventually(
    check: Callable[[], Any], *, timeout_s: float = 5.0, interval_s: float = 0.02, what: str = ""
) -> Any:
    """Poll `check` (sync or async) until it returns something truthy (returned), or fail saying
    what was awaited. Tests use it instead of sleeps."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        last = result
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s}s: {what or check!r} (last value {last!r})")
        await asyncio.sleep(interval_s)
