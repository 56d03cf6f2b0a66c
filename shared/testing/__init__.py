"""Test helpers that are part of the code (STYLE #11): polling instead of sleeps, free ports."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]], *, timeout_s: float = 5.0, interval_s: float = 0.02, what: str = ""
) -> T:
    """Poll `check` until it returns something truthy (returned), or fail with what was awaited."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while True:
        result = check()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        last = result
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s}s: {what or check!r} (last value {last!r})")
        await asyncio.sleep(interval_s)


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
