"""A signal core (pairs or basis) wired to a dual-leg machine: what the service and backtester run.

Ticks that are stale or skewed are refused *before* they reach the signal core, so unsynchronised
prices never enter the rolling windows; the signal core otherwise sees every fresh tick whatever
the machine's state, so its windows stay warm through Entering, Exiting or Reconciling.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import msgspec

from shared.messages.strategy import BasisParams, PairsParams
from shared.strategies.basis import BasisCore, BasisSnapshot
from shared.strategies.dual_leg import DualLegMachine, Step
from shared.strategies.dual_leg_state import MachineState
from shared.strategies.pairs import PairsCore, PairsSnapshot
from shared.strategies.types import CostModel, Decision, Direction, LegSpec, Quote


class SignalCore(Protocol):
    """What the machine needs from a signal core."""

    def update(self, p1: Decimal, p2: Decimal, held: Direction | None = None) -> Decision:
        """Decide on one synchronised pair of prices."""
        ...


class DualLegSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Signal-core state (exactly one of `pairs` / `basis`) and the machine state."""

    machine: MachineState
    pairs: PairsSnapshot | None = None
    basis: BasisSnapshot | None = None


class DualLegStrategy:
    """One dual-leg instance. Build it with `pairs(...)` or `basis(...)`."""

    def __init__(self, core: PairsCore | BasisCore, machine: DualLegMachine) -> None:
        self.core = core
        self.machine = machine

    @classmethod
    def pairs(cls, params: PairsParams, legs: tuple[LegSpec, LegSpec], costs: CostModel) -> DualLegStrategy:
        """A pairs instance: hedge in notional at the core's hedge ratio."""
        return cls(PairsCore(params), DualLegMachine(params, legs, costs, match="notional"))

    @classmethod
    def basis(cls, params: BasisParams, legs: tuple[LegSpec, LegSpec], costs: CostModel) -> DualLegStrategy:
        """A basis instance: leg 1 is spot, leg 2 the future, hedged in base quantity (contracts)."""
        return cls(BasisCore(params, costs), DualLegMachine(params, legs, costs, match="base"))

    def on_tick(self, now_ns: int, q1: Quote, q2: Quote) -> tuple[Decision, Step]:
        """One tick of both legs' latest quotes → the signal decision and the machine's step."""
        problem = self.machine.tick_problem(now_ns, q1, q2)
        if problem:
            step = self.machine.on_timer(now_ns)
            if not step.changed:
                step = Step(state=step.state, reason=problem)
            return Decision(reason=problem), step
        decision = self.core.update(q1.price, q2.price, self.machine.direction)
        return decision, self.machine.on_tick(now_ns, q1, q2, decision)

    def set_costs(self, costs: CostModel) -> None:
        """Apply a new fee tier to both the signal core (basis) and the machine."""
        if isinstance(self.core, BasisCore):
            self.core.set_costs(costs)
        self.machine.set_costs(costs)

    def snapshot(self) -> DualLegSnapshot:
        """Export the whole instance for the KV snapshot bucket."""
        core = self.core
        if isinstance(core, PairsCore):
            return DualLegSnapshot(machine=self.machine.snapshot(), pairs=core.snapshot())
        return DualLegSnapshot(machine=self.machine.snapshot(), basis=core.snapshot())

    @classmethod
    def restore(
        cls,
        params: PairsParams | BasisParams,
        legs: tuple[LegSpec, LegSpec],
        costs: CostModel,
        snap: DualLegSnapshot,
    ) -> DualLegStrategy:
        """Rebuild an instance from its config and a snapshot taken with the same config."""
        if isinstance(params, PairsParams):
            if snap.pairs is None:
                raise ValueError("snapshot has no pairs state")
            machine = DualLegMachine.restore(params, legs, costs, snap.machine, match="notional")
            return cls(PairsCore.restore(params, snap.pairs), machine)
        if snap.basis is None:
            raise ValueError("snapshot has no basis state")
        machine = DualLegMachine.restore(params, legs, costs, snap.machine, match="base")
        return cls(BasisCore.restore(params, costs, snap.basis), machine)
