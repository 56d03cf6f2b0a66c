"""Plug-in strategy sources in KV `strategy_code`, keyed by their sha256.

The CLI validates a strategy file and stores its source here; a spec names it by sha256
(`PluginParams.code`), so every worker runs exactly the code that was validated, with no shared
filesystem. A key's value never changes (the key is the content's hash), so writing is idempotent.
"""

from __future__ import annotations

import contextlib

from shared import subjects
from shared.bus import Bus
from shared.errors import RevisionConflictError
from shared.messages.strategy import StrategyCode
from shared.sdk.loader import source_sha


async def put_code(bus: Bus, source: str, filename: str) -> str:
    """Store a strategy file's source (if not stored yet); its sha256, the key."""
    sha = source_sha(source)
    kv = await bus.kv(subjects.KV_STRATEGY_CODE, StrategyCode)
    if await kv.get(sha) is None:
        # Stored meanwhile by someone else: the same key holds the same content.
        with contextlib.suppress(RevisionConflictError):
            await kv.create(sha, StrategyCode(source=source, filename=filename))
    return sha


async def get_code(bus: Bus, sha: str) -> StrategyCode | None:
    """The stored source of `sha`; None when absent (or, impossibly, not matching its key)."""
    kv = await bus.kv(subjects.KV_STRATEGY_CODE, StrategyCode)
    entry = await kv.get(sha)
    if entry is None or source_sha(entry.value.source) != sha:
        return None
    return entry.value
