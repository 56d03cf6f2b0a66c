"""Values this service keeps in KV and the control messages it answers.

KV `worker_leases` holds two kinds of keys (the bucket's 15 s TTL removes a dead worker's keys):
- `worker.<worker_id>` → `WorkerPresence`, renewed every heartbeat: who is alive (for balancing);
- `lease.<strategy_id>` → `InstanceLease`, created to acquire (`create`), renewed with
  `update(last=revision)`; a lease is taken over with `update(last=stale_revision)` when its
  revision has not moved for `lease_ttl_s`.
KV `strategy_snapshots` holds `<strategy_id>` → `InstanceSnapshot`, written with compare-and-set
on its revision, so a worker that lost its lease can never overwrite the new owner's state.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from shared.messages.base import Message
from shared.messages.orders import OrderIntent
from shared.messages.strategy import StrategyParams
from shared.strategies import DualLegSnapshot, MaCrossoverSnapshot

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


class PendingOrder(msgspec.Struct, kw_only=True):
    """An MA order sent and not yet terminal."""

    seq: int
    side: str
    size: Decimal
    sent_ns: int
    filled: Decimal = Decimal(0)


class MaBook(msgspec.Struct, kw_only=True):
    """The MA instance's execution state around the pure core: position from fills, open orders,
    the bar being built, and recent trade ids (fills are redelivered after a crash)."""

    position: Decimal = Decimal(0)
    next_seq: int = 1
    pending: list[PendingOrder] = msgspec.field(default_factory=list)
    bar_start: int | None = None
    bar_close: Decimal | None = None
    seen_trades: list[str] = msgspec.field(default_factory=list)
    reconciling: str = ""
    halted: str = ""


class InstanceSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """An instance's whole state. `unsent` are intents recorded before publishing: a new owner
    publishes them again (the INTENTS stream de-duplicates by client order id), so a crash between
    deciding and publishing loses nothing and repeats nothing. `retired` keeps only the order
    sequence of a deleted spec, so a re-created spec never reuses a client order id.
    `order_venue` is where its orders went: positions and open orders are facts of that venue only."""

    strategy_id: str
    params: StrategyParams
    worker_id: str
    saved_ns: int
    ma: MaCrossoverSnapshot | None = None
    ma_book: MaBook | None = None
    dual: DualLegSnapshot | None = None
    unsent: tuple[OrderIntent, ...] = ()
    retired: bool = False
    halted: str = ""
    order_venue: str = ""
    """The execution venue of the orders and positions above ('' when saved before it was kept)."""

    @property
    def next_seq(self) -> int:
        """The first order sequence number the instance may still use."""
        if self.ma_book is not None:
            return self.ma_book.next_seq
        if self.dual is not None:
            return self.dual.machine.next_seq
        return 1

    def retired_copy(self, worker_id: str, saved_ns: int) -> InstanceSnapshot:
        """Only the order sequence (and params) of this snapshot: what a deleted spec, or a spec
        whose orders now go to another venue, may keep."""
        book = type(self.ma_book)(next_seq=self.ma_book.next_seq) if self.ma_book is not None else None
        return InstanceSnapshot(
            strategy_id=self.strategy_id,
            params=self.params,
            worker_id=worker_id,
            saved_ns=saved_ns,
            ma_book=book,
            dual=self.dual,
            retired=True,
        )


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
