"""Typed KV buckets: msgspec values, compare-and-set on revisions, conflicts as our own error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

import msgspec
import nats.js.errors

from shared import codec
from shared.errors import RevisionConflictError

T = TypeVar("T", bound=msgspec.Struct)
V = TypeVar("V")

_WRONG_LAST_SEQUENCE = (10071, 10164)
"""JetStream's error codes for "the subject is not at the expected sequence"."""


class KVEntry(msgspec.Struct, Generic[T], frozen=True):
    """A decoded value and the revision to compare-and-set against."""

    value: T
    revision: int


async def _checked(key: str, write: Awaitable[V]) -> V:
    """Run a conditional write; a lost compare-and-set becomes `RevisionConflictError`. nats-py
    raises `KeyWrongLastSequenceError` for update/create, a bare `APIError` for delete."""
    try:
        return await write
    except nats.js.errors.KeyWrongLastSequenceError as exc:
        raise RevisionConflictError(key, str(exc)) from None
    except nats.js.errors.APIError as exc:
        if exc.err_code in _WRONG_LAST_SEQUENCE:
            raise RevisionConflictError(key, str(exc)) from None
        raise


class TypedKV(Generic[T]):
    """A KV bucket whose values are one msgspec type."""

    def __init__(self, kv: Any, value_type: type[T]) -> None:
        self._kv = kv
        self._type = value_type

    async def get(self, key: str) -> KVEntry[T] | None:
        """The current value, or None when the key is absent or deleted."""
        try:
            entry = await self._kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        return KVEntry(value=codec.decode(entry.value, self._type), revision=entry.revision)

    async def get_many(self, keys: list[str], *, window: int = 256) -> list[KVEntry[T] | None]:
        """`get` of every key, in order, with up to `window` requests in flight: reading N records
        costs about N / `window` round trips instead of N (reconciliation reads every paper order
        record each cycle, and their number only grows)."""
        out: list[KVEntry[T] | None] = []
        for start in range(0, len(keys), window):
            out += await asyncio.gather(*(self.get(key) for key in keys[start : start + window]))
        return out

    async def put(self, key: str, value: T) -> int:
        """Unconditional write; returns the new revision."""
        return int(await self._kv.put(key, codec.encode(value)))

    async def create(self, key: str, value: T) -> int:
        """Write only if absent; raises `RevisionConflictError` otherwise."""
        return int(await _checked(key, self._kv.create(key, codec.encode(value))))

    async def update(self, key: str, value: T, *, last: int) -> int:
        """Compare-and-set on revision; raises `RevisionConflictError` if stale."""
        return int(await _checked(key, self._kv.update(key, codec.encode(value), last=last)))

    async def delete(self, key: str, *, last: int | None = None) -> None:
        """Remove a key (a tombstone stays in history); with `last`, only if still at that revision
        (else `RevisionConflictError`)."""
        await _checked(key, self._kv.delete(key, last=last))

    async def keys(self, timeout_s: float = 10.0) -> list[str]:
        """Every live key; empty when the bucket is empty. Bounded: nats-py's own `keys()` waits
        for its watcher without a timeout, so a lost end-of-keys marker would hang the caller."""
        try:
            return list(await asyncio.wait_for(self._kv.keys(), timeout_s))
        except nats.js.errors.NoKeysError:
            return []
