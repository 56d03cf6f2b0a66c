"""The dual-leg machine's state as one mutable Struct, plus the position/PnL arithmetic on it.

All of the machine's state lives in `MachineState`, so a snapshot is simply a deep copy of it and
restore-then-continue cannot miss a field. Positions and PnL come from actual fills only.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from shared.messages.base import Side
from shared.messages.orders import Purpose
from shared.money import BPS, ZERO, round_to_increment
from shared.strategies.types import CostModel, LegSpec, OrderRequest, Quote


class State(enum.StrEnum):
    """Where a dual-leg instance is. Only Flat and InPosition are at rest."""

    FLAT = "flat"
    ENTERING = "entering"
    IN_POSITION = "in_position"
    EXITING = "exiting"
    RECONCILING = "reconciling"
    HALTED = "halted"


class OrderRecord(msgspec.Struct, kw_only=True):
    """One order the machine asked for and what is known about it from fills and order events."""

    seq: int
    leg: int
    side: Side
    size: Decimal
    purpose: Purpose
    filled: Decimal = ZERO
    done: bool = False
    final_filled: Decimal | None = None

    @property
    def settled(self) -> bool:
        """Done *and* every fill the venue reported for it has arrived (fills can trail events)."""
        return self.done and (self.final_filled is None or self.filled >= self.final_filled)


class LegBook(msgspec.Struct, kw_only=True):
    """One leg's signed position (order units), cash flow and fees from fills in this episode."""

    pos: Decimal = ZERO
    cash: Decimal = ZERO
    fees: Decimal = ZERO


class MachineState(msgspec.Struct, kw_only=True):
    """The complete state of a `DualLegMachine`; its snapshot is a deep copy of this."""

    state: State = State.FLAT
    reason: str = ""
    direction: int = 0
    target1: Decimal = ZERO
    target2: Decimal = ZERO
    hedge_ratio: Decimal = ZERO
    legs: list[LegBook] = msgspec.field(default_factory=lambda: [LegBook(), LegBook()])
    orders: list[OrderRecord] = msgspec.field(default_factory=list)
    next_seq: int = 1
    phase_ns: int = 0
    in_position_ns: int | None = None
    last_flat_ns: int | None = None
    unhedged_since_ns: int | None = None
    hedge_attempts: int = 0
    unwind_attempts: int = 0
    exit_attempts: int = 0
    exit_retry_ns: int | None = None
    realized_pnl: Decimal = ZERO
    last_prices: list[Decimal] = msgspec.field(default_factory=lambda: [ZERO, ZERO])
    seen_trades: list[str] = msgspec.field(default_factory=list)


def copy_state(st: MachineState) -> MachineState:
    """A deep copy through msgpack (Decimals travel as strings, so the copy is exact)."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(st), type=MachineState)


class Accounting:
    """Position arithmetic over a `MachineState` for two legs with their grids and a cost model."""

    def __init__(self, legs: tuple[LegSpec, LegSpec], costs: CostModel) -> None:
        self.specs = legs
        self.costs = costs

    def matched2(self, st: MachineState, abs1: Decimal) -> Decimal:
        """Leg-2 quantity that hedges `abs1` of leg 1 at the entry ratio, on leg 2's grid."""
        return round_to_increment(abs1 * st.hedge_ratio, self.specs[1].base_increment, mode="nearest")

    def matched1(self, st: MachineState, abs2: Decimal) -> Decimal:
        """Leg-1 quantity hedged by `abs2` of leg 2, rounded down on leg 1's grid."""
        if st.hedge_ratio == ZERO:
            return ZERO
        return round_to_increment(abs2 / st.hedge_ratio, self.specs[0].base_increment)

    def balanced(self, st: MachineState, slack: Decimal = ZERO) -> bool:
        """Flat on both legs, or leg 2 is leg 1's hedge: opposite sides and leg 2 equal to the
        matched quantity (within `slack` of leg 2's order units)."""
        p1, p2 = st.legs[0].pos, st.legs[1].pos
        if p1 == ZERO and p2 == ZERO:
            return True
        if p1 == ZERO or p2 == ZERO or (p1 > ZERO) == (p2 > ZERO):
            return False
        return abs(abs(p2) - self.matched2(st, abs(p1))) <= slack

    def apply_fill(
        self, st: MachineState, rec: OrderRecord, size: Decimal, price: Decimal, fee: Decimal
    ) -> None:
        """Fold one fill of `rec` into its leg's position, cash and fees."""
        leg = st.legs[rec.leg - 1]
        spec = self.specs[rec.leg - 1]
        sign = rec.side.sign
        leg.pos += sign * size
        leg.cash -= sign * spec.notional(size, price)
        leg.fees += fee
        rec.filled += size

    def value(self, st: MachineState, q1: Quote, q2: Quote) -> Decimal:
        """Mark-to-market PnL of the episode so far: cash + position value − fees paid."""
        total = ZERO
        for leg, spec, q in zip(st.legs, self.specs, (q1, q2), strict=True):
            total += leg.cash + spec.notional(leg.pos, q.price) - leg.fees
        return total

    def pnl_bps(self, st: MachineState, q1: Quote, q2: Quote) -> Decimal:
        """Net PnL if we closed now, in bps of leg 1's current notional: mark-to-market minus the
        estimated exit cost (taker fee + slippage on both legs' exit notional)."""
        exit_rate = (self.costs.taker_bps + self.costs.slippage_bps) / BPS
        exit_cost = ZERO
        for leg, spec, q in zip(st.legs, self.specs, (q1, q2), strict=True):
            exit_cost += abs(spec.notional(leg.pos, q.price)) * exit_rate
        notional = abs(self.specs[0].notional(st.legs[0].pos, q1.price))
        if notional == ZERO:
            return ZERO
        return (self.value(st, q1, q2) - exit_cost) / notional * BPS

    def realize(self, st: MachineState) -> Decimal:
        """Book the episode's cash and fees as realized PnL and clear them (positions are 0)."""
        pnl = sum((leg.cash - leg.fees for leg in st.legs), ZERO)
        st.realized_pnl += pnl
        for leg in st.legs:
            leg.cash = ZERO
            leg.fees = ZERO
        return pnl


def new_order(
    st: MachineState, leg: int, side: Side, size: Decimal, purpose: Purpose, price: Decimal, reason: str
) -> OrderRequest:
    """Record an order as working and return the request the caller must send."""
    seq = st.next_seq
    st.next_seq += 1
    st.orders.append(OrderRecord(seq=seq, leg=leg, side=side, size=size, purpose=purpose))
    del st.orders[:-_ORDER_HISTORY]
    return OrderRequest(
        seq=seq, leg=leg, side=side, size=size, purpose=purpose, reference_price=price, reason=reason
    )


# Orders are kept (settled ones too) so a fill that trails its order event is still attributed.
_ORDER_HISTORY = 64
