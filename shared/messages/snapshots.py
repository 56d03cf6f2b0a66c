"""An instance's whole state, kept in KV `strategy_snapshots` under `snapshot_key(strategy_id)`.

Written with compare-and-set on its revision, so a worker that lost its lease can never overwrite
the new owner's state. It embeds the strategy cores' own snapshots, so this module is imported by
its path: `shared.messages` itself does not load it (the cores depend on `shared.messages`).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.messages.orders import OrderIntent
from shared.messages.strategy import StrategyParams
from shared.sdk.book import SdkBook, SdkSnapshot
from shared.sdk.twoleg import TwoLegSnapshot
from shared.strategies import DualLegSnapshot, MaCrossoverSnapshot


class PendingOrder(msgspec.Struct, kw_only=True):
    """An MA order sent and not yet terminal (snapshots saved before the SDK runtime)."""

    seq: int
    side: str
    size: Decimal
    sent_ns: int
    filled: Decimal = Decimal(0)


class MaBook(msgspec.Struct, kw_only=True):
    """The MA instance's execution state as snapshots saved before the SDK runtime hold it: read
    once, when such an instance starts, to carry its position and order sequence over."""

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
    sdk: SdkSnapshot | None = None
    """A `Strategy`'s book and state (every single- or multi-product strategy, MA included)."""
    twoleg: TwoLegSnapshot | None = None
    """A `TwoLegStrategy`'s machine and state (pairs and basis included)."""
    ma: MaCrossoverSnapshot | None = None
    ma_book: MaBook | None = None
    dual: DualLegSnapshot | None = None
    """`ma`, `ma_book`, `dual`: written by versions before the SDK runtime; read only to carry an
    instance's positions and order sequence over (never written now)."""
    unsent: tuple[OrderIntent, ...] = ()
    retired: bool = False
    halted: str = ""
    order_venue: str = ""
    """The execution venue of the orders and positions above ('' when saved before it was kept)."""

    @property
    def next_seq(self) -> int:
        """The first order sequence number the instance may still use."""
        if self.sdk is not None:
            return self.sdk.book.next_seq
        if self.twoleg is not None:
            return self.twoleg.machine.next_seq
        if self.ma_book is not None:
            return self.ma_book.next_seq
        if self.dual is not None:
            return self.dual.machine.next_seq
        return 1

    def retired_copy(self, worker_id: str, saved_ns: int) -> InstanceSnapshot:
        """Only the order sequence (and params) of this snapshot: what a deleted spec, or a spec
        whose orders now go to another venue, may keep."""
        return InstanceSnapshot(
            strategy_id=self.strategy_id,
            params=self.params,
            worker_id=worker_id,
            saved_ns=saved_ns,
            sdk=None if self.twoleg is not None else SdkSnapshot(book=SdkBook(next_seq=self.next_seq)),
            # A two-leg machine stays readable: reconciliation's naked-leg backstop still needs
            # the hedge ratio of a deleted instance's open legs.
            twoleg=TwoLegSnapshot(machine=self.twoleg.machine) if self.twoleg is not None else None,
            dual=self.dual,
            retired=True,
        )
