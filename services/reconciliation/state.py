"""What reconciliation keeps across restarts, in KV `exec_state` key `<venue>.recon`: the fills
cursor, the spot/futures baseline, and when each instance started waiting or was last seen
imbalanced (so the unhedged bound survives a restart instead of starting over)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import structlog

from shared.bus import TypedKV

_log = structlog.get_logger("reconciliation.state")


class ReconState(msgspec.Struct, frozen=True, kw_only=True):
    """The persisted part of the core's memory plus the fills cursor."""

    fills_cursor_ns: int
    """Fills sequenced before this were all on the bus (venue clock)."""
    baseline: dict[str, Decimal] | None = None
    """Holdings the system did not trade (None until captured)."""
    reconciling_since: dict[str, int] = msgspec.field(default_factory=dict)
    unhedged_since: dict[str, int] = msgspec.field(default_factory=dict)


class StateStore:
    """Load and save `ReconState` under one key."""

    def __init__(self, kv: TypedKV[ReconState], venue: str) -> None:
        self._kv = kv
        self.key = f"{venue}.recon"

    async def load(self, initial_cursor_ns: int) -> ReconState:
        """The stored state, or a fresh one whose cursor starts `fills_lookback_s` ago."""
        try:
            entry = await self._kv.get(self.key)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            _log.warning("recon_state_unreadable", error=str(exc))
            entry = None
        if entry is None:
            return ReconState(fills_cursor_ns=initial_cursor_ns)
        return entry.value

    async def save(self, state: ReconState) -> None:
        """Unconditional write: one reconciliation replica per venue."""
        await self._kv.put(self.key, state)
