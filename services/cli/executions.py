"""Which execution venues the running stack serves, from the execution services' heartbeats.

A spec whose orders go to a venue no execution serves would trade nowhere (paper) or, worse, wait
for a live execution someone starts later; the trading commands refuse it before writing it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from shared import routing, subjects
from shared.bus import Bus
from shared.messages import ServiceHeartbeat
from shared.runtime import HEARTBEAT_INTERVAL_S

EXECUTION = "execution"
FRESH_S = 3 * HEARTBEAT_INTERVAL_S
"""A heartbeat older than this is from an execution that stopped (the bucket's TTL is longer)."""


def served_venue(beat: ServiceHeartbeat, now_ns: int) -> str:
    """The venue a live execution heartbeat says it serves ('' when it is not one)."""
    if beat.service != EXECUTION or now_ns - beat.updated_ns > FRESH_S * 1e9:
        return ""
    try:
        details: Any = json.loads(beat.details_json or "{}")
    except ValueError:
        return ""
    execution = details.get(EXECUTION) if isinstance(details, dict) else None
    venue = execution.get("venue") if isinstance(execution, dict) else None
    return venue if isinstance(venue, str) else ""


def served_venues(beats: Iterable[ServiceHeartbeat], now_ns: int) -> set[str]:
    """Every venue some live execution serves."""
    return {v for v in (served_venue(b, now_ns) for b in beats) if v}


def missing_execution(venue: str) -> str:
    """Why a spec routed to `venue` cannot start on a stack without an execution serving it."""
    if routing.mode_of(venue) == routing.PAPER:
        return (
            f"no paper execution is running on this stack ({venue}): start one, or use --live on a live stack"
        )
    return f"no live execution is running on this stack ({venue}): going live needs `algopioneer up --live`"


async def running_venues(bus: Bus) -> set[str]:
    """The venues served by the executions heartbeating in KV `services` now."""
    kv = await bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
    beats = []
    for key in await kv.keys():
        if key.startswith(f"{EXECUTION}."):
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                entry = await kv.get(key)
                if entry is not None:
                    beats.append(entry.value)
    return served_venues(beats, time.time_ns())
