"""A signal core wired to a dual-leg machine: what the service and backtester run.

The signal core is anything with `update(p1, p2, held) -> Decision`: the built-in pairs and basis
cores, or a plug-in `TwoLegStrategy` through its adapter (`shared.sdk.twoleg`). Ticks that are
stale or skewed are refused *before* they reach the signal core, so unsynchronised prices never
enter the rolling windows; the signal core otherwise sees every fresh tick whatever the machine's
state, so its windows stay warm through Entering, Exiting or Reconciling.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec

from shared.messages.strategy import BasisParams, DualLegParams, PairsParams
from shared.strategies.basis import BasisCore, BasisSnapshot
from shared.strategies.dual_leg import DualLegMachine, Step
from shared.strategies.dual_leg_state import MachineState
from shared.strategies.pairs import PairsCore, PairsSnapshot
from shared.strategies.sizing import HedgeMatch
from shared.strategies.types import CostModel, Decision, Direction, LegSpec, Quote


class SignalCore(Protocol):
    """What the machine needs from a signal core."""

    def update(self, p1: Decimal, p2: Decimal, held: Direction | None = None) -> Decision:
        """Decide on one synchronised pair of prices."""
        ...


@runtime_checkable
class CostAware(Protocol):
    """A signal core whose decisions depend on the fee tier (basis): told when it changes."""

    def set_costs(self, costs: CostModel) -> None:
        """Apply a new fee tier."""
        ...


class DualLegSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Signal-core state (exactly one of `pairs` / `basis`) and the machine state."""

    machine: MachineState
    pairs: PairsSnapshot | None = None
    basis: BasisSnapshot | None = None


class DualLegStrategy:
    """One dual-leg instance: `of(...)` for any signal core, `pairs(...)` / `basis(...)` for the
    built-in cores."""

    def __init__(self, core: SignalCore, machine: DualLegMachine) -> None:
        self.core = core
        self.machine = machine

    @classmethod
    def of(
        cls,
        core: SignalCore,
        params: DualLegParams,
        legs: tuple[LegSpec, LegSpec],
        costs: CostModel,
        *,
        match: HedgeMatch,
        state: MachineState | None = None,
    ) -> DualLegStrategy:
        """Any signal core on a fresh machine (or one restored from `state`, copied)."""
        if state is None:
            return cls(core, DualLegMachine(params, legs, costs, match=match))
        return cls(core, DualLegMachine.restore(params, legs, costs, state, match=match))

    @classmethod
    def pairs(cls, params: PairsParams, legs: tuple[LegSpec, LegSpec], costs: CostModel) -> DualLegStrategy:
        """A pairs instance: hedge in notional at the core's hedge ratio."""
        return cls.of(PairsCore(params), params, legs, costs, match="notional")

    @classmethod
    def basis(cls, params: BasisParams, legs: tuple[LegSpec, LegSpec], costs: CostModel) -> DualLegStrategy:
        """A basis instance: leg 1 is spot, leg 2 the future, hedged in base quantity (contracts)."""
        return cls.of(BasisCore(params, costs), params, legs, costs, match="base")

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
        """Apply a new fee tier to the machine and to a signal core that prices with it."""
        if isinstance(self.core, CostAware):
            self.core.set_costs(costs)
        self.machine.set_costs(costs)

    def snapshot(self) -> DualLegSnapshot:
        """Export a built-in (pairs or basis) instance for the KV snapshot bucket."""
        core = self.core
        if isinstance(core, PairsCore):
            return DualLegSnapshot(machine=self.machine.snapshot(), pairs=core.snapshot())
        if isinstance(core, BasisCore):
            return DualLegSnapshot(machine=self.machine.snapshot(), basis=core.snapshot())
        raise TypeError(f"{type(core).__name__} is snapshotted by its own adapter, not DualLegSnapshot")

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
            core: SignalCore = PairsCore.restore(params, snap.pairs)
            return cls.of(core, params, legs, costs, match="notional", state=snap.machine)
        if snap.basis is None:
            raise ValueError("snapshot has no basis state")
        core = BasisCore.restore(params, costs, snap.basis)
        return cls.of(core, params, legs, costs, match="base", state=snap.machine)
