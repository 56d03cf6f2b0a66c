"""What the instance runtime needs from a strategy, whatever its kind: an `Engine`.

An engine wraps a `shared.sdk` strategy (`SdkEngine` for any `Strategy`, `TwoLegEngine` for a
`TwoLegStrategy`) with the little bookkeeping the live service adds around it — client order id ↔
sequence, position from fills, the bar builder — and still does no I/O: time comes in, `Outcome`s (order requests, the decision, whether state
changed) go out. That keeps the service thin and the engines unit-testable without NATS.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import msgspec

from shared.messages.market import BookUpdate, Candle, Ticker, Trade
from shared.messages.orders import Fill, OrderEvent, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import SignalAction
from shared.sdk.context import LogLine
from shared.strategies import CostModel, Decision, OrderRequest


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """The result of one event: orders to send, orders to cancel (client order ids of this
    instance, published before the orders), the decision taken (if a core ran), whether the
    instance's state changed (snapshot and status at once), a reason code, and the strategy's
    log lines (an SDK strategy's `ctx.log`)."""

    orders: tuple[OrderRequest, ...] = ()
    cancels: tuple[str, ...] = ()
    decision: Decision | None = None
    changed: bool = False
    reason: str = ""
    logs: tuple[LogLine, ...] = ()

    @property
    def acted(self) -> bool:
        """Non-hold decision: worth a `Signal`."""
        return self.decision is not None and self.decision.action is not SignalAction.HOLD


NOTHING = Outcome()


class Engine(Protocol):
    """One strategy instance's logic, driven by the runtime."""

    products: tuple[str, ...]
    every_tick: bool
    """It needs every tick (bars are built from them); otherwise the latest quote is enough."""

    @property
    def state(self) -> str:
        """Flat, in_position, entering, exiting, reconciling, halted (the dual-leg names)."""
        ...

    @property
    def positions(self) -> tuple[tuple[str, Decimal], ...]:
        """Signed position per product in venue units, from fills."""
        ...

    def on_ticker(self, ticker: Ticker) -> bool:
        """Take a tick (cheap, synchronous); True when `process` has something to do."""
        ...

    def on_market(self, message: BookUpdate | Trade) -> bool:
        """Take a book update or public trade (cheap); True when `process` has something to do."""
        ...

    def process(self, now_ns: int) -> Outcome:
        """Run the core on the market input gathered since the last call."""
        ...

    def warm(self, candles: dict[str, list[Candle]]) -> int:
        """Fold candle history into the signal core without trading; returns bars used."""
        ...

    def seq_of(self, client_order_id: str) -> int | None:
        """The order sequence behind one of our client order ids (None: not ours)."""
        ...

    def on_fill(self, fill: Fill, now_ns: int) -> Outcome:
        """Fold in an actual fill."""
        ...

    def on_order_event(self, event: OrderEvent, now_ns: int) -> Outcome:
        """Fold in an order's lifecycle event (terminal ones matter)."""
        ...

    def on_order_unsendable(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """An order rounded to nothing (below the product's minimum): treat it as done, unfilled."""
        ...

    def on_order_refused(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """Risk refused the order: it never reaches the venue, so it is done with nothing filled
        (at once — no waiting for the execution timeout). Nothing happens if it is already done."""
        ...

    def on_timer(self, now_ns: int) -> Outcome:
        """Heartbeat: execution timeouts."""
        ...

    def resolve(
        self, now_ns: int, positions: tuple[Decimal, ...], prices: tuple[Decimal, ...], reason: str
    ) -> Outcome:
        """Reconciliation's verdict with the venue's quantities."""
        ...

    def set_costs(self, costs: CostModel) -> None:
        """Price trades with a new fee tier from now on."""
        ...

    def halt(self, now_ns: int, reason: str) -> Outcome:
        """Stop trading until resolved."""
        ...

    def snapshot_into(self, base: InstanceSnapshot) -> InstanceSnapshot:
        """`base` with this engine's state filled in."""
        ...


def coid_table(strategy_id: str, orders: list[tuple[int, int]]) -> dict[str, int]:
    """client order id → sequence for (seq, leg) pairs; ids are deterministic, so rebuilt freely."""
    return {client_order_id(strategy_id, seq, leg): seq for seq, leg in orders}
