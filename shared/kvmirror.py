"""A local mirror of a KV bucket (strategy specs, worker leases), kept current by a watcher.

Strategy workers and reconciliation both judge lease liveness with it: a lease is alive while its
revision keeps moving, judged on *this* process's monotonic clock from when it last saw the revision
change, so clock skew between machines cannot make a healthy owner look dead. The leases bucket's TTL
only garbage-collects keys of dead workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from shared.tasks import cancel_and_wait

_DELETES = ("DEL", "PURGE")


@dataclass
class MirrorEntry:
    """A key's latest raw value, its revision, and when this worker saw that revision appear."""

    raw: bytes
    revision: int
    seen: float


class KvMirror:
    """Every key of one bucket, as of the latest update this process received."""

    def __init__(self, kv: Any, name: str) -> None:
        self.kv = kv
        self.name = name
        self.entries: dict[str, MirrorEntry] = {}
        self.ready = asyncio.Event()
        self._watcher: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 10.0) -> None:
        """Load the current keys, then follow changes."""
        self._watcher = await self.kv.watchall()
        self._task = asyncio.create_task(self._follow(), name=f"kv-mirror-{self.name}")
        await asyncio.wait_for(self.ready.wait(), timeout_s)

    async def _follow(self) -> None:
        async for entry in self._watcher:
            if entry is None:
                self.ready.set()
                continue
            if entry.operation in _DELETES or entry.value is None:
                self.entries.pop(entry.key, None)
            else:
                self.entries[entry.key] = MirrorEntry(entry.value, entry.revision, time.monotonic())
            if entry.delta == 0:
                self.ready.set()

    def fresh(self, key: str, ttl_s: float) -> bool:
        """The key exists and its revision moved within `ttl_s`."""
        entry = self.entries.get(key)
        return entry is not None and time.monotonic() - entry.seen <= ttl_s

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """Keys that start with `prefix`."""
        return [k for k in self.entries if k.startswith(prefix)]

    def note(self, key: str, raw: bytes, revision: int) -> None:
        """Record our own write at once (the watcher confirms it a moment later)."""
        self.entries[key] = MirrorEntry(raw, revision, time.monotonic())

    async def stop(self) -> None:
        """Stop following."""
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        await cancel_and_wait([self._task])
