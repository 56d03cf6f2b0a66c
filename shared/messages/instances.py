"""What strategy workers keep in KV about who runs an instance, and the commands an instance answers.

KV `worker_leases` holds two kinds of keys (the bucket's 15 s TTL removes a dead worker's keys):
- `worker.<worker_id>` → `WorkerPresence`, renewed every heartbeat: who is alive (for balancing);
- `lease.<strategy_id>` → `InstanceLease`, created to acquire (`create`), renewed with
  `update(last=revision)`; a lease is taken over with `update(last=stale_revision)` when its
  revision has not moved for `lease_ttl_s`.
KV `strategy_snapshots` holds `<strategy_id>` → `InstanceSnapshot` (`shared.messages.snapshots`).
The CLI and reconciliation read the leases and send the commands.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from shared.messages.base import Message

WORKER_PREFIX = "worker."
LEASE_PREFIX = "lease."


def worker_key(worker_id: str) -> str:
    """Presence key of one worker."""
    return f"{WORKER_PREFIX}{worker_id}"


def lease_key(strategy_id: str) -> str:
    """Lease key of one instance."""
    return f"{LEASE_PREFIX}{strategy_id}"


def snapshot_key(strategy_id: str) -> str:
    """Snapshot key of one instance."""
    return strategy_id


class WorkerPresence(msgspec.Struct, frozen=True, kw_only=True):
    """A live worker and how many instances it owns."""

    worker_id: str
    owned: int
    renewed_ns: int


class InstanceLease(msgspec.Struct, frozen=True, kw_only=True):
    """Who owns an instance. Liveness is the revision moving, not `renewed_ns` (no clock skew)."""

    worker_id: str
    strategy_id: str
    acquired_ns: int
    renewed_ns: int


class CommandAction(enum.StrEnum):
    """What `subjects.strategy_control(sid)` accepts (request/reply, answered by the owner)."""

    STATUS = "status"
    STOP = "stop"
    HALT = "halt"
    RESOLVE = "resolve"
    RESTART = "restart"


class StrategyCommand(Message, frozen=True, kw_only=True):
    """A command to one instance. `resolve` carries the venue's actual positions (one per product
    in `StrategySpec.products` order, venue units) and optionally marks to value them at; `stop`
    disables the spec (it stays stopped on every worker); `restart` clears a Halted instance's
    restart budget and rebuilds it from its snapshot."""

    action: CommandAction
    positions: tuple[Decimal, ...] = ()
    prices: tuple[Decimal, ...] = ()
    reason: str = ""
    sent_ns: int = 0


class StrategyCommandReply(Message, frozen=True, kw_only=True):
    """The owner's answer: whether the command was applied and the state afterwards."""

    ok: bool
    strategy_id: str
    worker_id: str
    state: str
    detail: str = ""
