"""Spot vs future basis: gross and net basis in bps, entry and exit thresholds, contract sizing.

Gross basis = (future − spot) / spot in bps. Net basis is what a trade in a given direction would
still earn after a full round trip: |gross| in that direction minus four taker legs and slippage,
with fee rates from the venue's current tier (a `CostModel` passed in, never hard-coded).

Fixed defect: the original entered on *net* basis but exited on *gross* basis, so its effective
hysteresis was an accident of the cost model (gross 95 → 2 bps with default costs). Here entry and
exit are both measured on net basis for the held direction, so the hysteresis is exactly
`entry_bps − exit_bps` of basis movement, whatever the fees. Reverse carry (short spot, long
future, when the future trades below spot) is traded only with `allow_reverse`.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.messages.strategy import BasisParams, SignalAction
from shared.money import BPS, ZERO
from shared.strategies.sizing import HedgeSizing, size_legs
from shared.strategies.types import CostModel, Decision, Direction, LegSpec


def gross_basis_bps(spot: Decimal, future: Decimal) -> Decimal:
    """(future − spot) / spot in bps; 0 when spot is not positive (no division blow-up)."""
    return ZERO if spot <= ZERO else (future - spot) / spot * BPS


def net_basis_bps(gross_bps: Decimal, direction: Direction, costs: CostModel) -> Decimal:
    """What `direction` earns over a round trip: LONG (long spot, short future) earns +gross,
    SHORT earns −gross; both pay the round-trip cost. Always ≤ |gross| when costs are ≥ 0."""
    return gross_bps * int(direction) - costs.round_trip_bps


class BasisSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The basis core keeps no history; the last values are kept for status and continuity."""

    last_gross_bps: Decimal | None = None


class BasisCore:
    """Decides on each (spot, future) pair of prices, given the direction currently held."""

    def __init__(self, params: BasisParams, costs: CostModel) -> None:
        self.params = params
        self.costs = costs
        self.last_gross_bps: Decimal | None = None

    def set_costs(self, costs: CostModel) -> None:
        """Apply a new fee tier (Coinbase moves accounts between tiers with 30-day volume)."""
        self.costs = costs

    def update(self, spot: Decimal, future: Decimal, held: Direction | None = None) -> Decision:
        """ENTER_LONG / ENTER_SHORT when flat and the net basis clears `entry_bps`; EXIT when the
        net basis of the held direction falls below `exit_bps`; HOLD otherwise."""
        if not (spot.is_finite() and future.is_finite()) or spot <= ZERO or future <= ZERO:
            return Decision(reason="bad_price")
        gross = gross_basis_bps(spot, future)
        self.last_gross_bps = gross
        p = self.params
        if held is not None:
            net = net_basis_bps(gross, held, self.costs)
            if net < p.exit_bps:
                return Decision(action=SignalAction.EXIT, value=float(net), reason="net_basis_below_exit")
            return Decision(value=float(net), reason="holding")
        net_long = net_basis_bps(gross, Direction.LONG, self.costs)
        if net_long > p.entry_bps:
            return Decision(action=SignalAction.ENTER_LONG, value=float(net_long), reason="contango")
        net_short = net_basis_bps(gross, Direction.SHORT, self.costs)
        if p.allow_reverse and net_short > p.entry_bps:
            return Decision(action=SignalAction.ENTER_SHORT, value=float(net_short), reason="backwardation")
        return Decision(value=float(max(net_long, net_short)), reason="below_entry")

    def snapshot(self) -> BasisSnapshot:
        """Export the state for the KV snapshot bucket."""
        return BasisSnapshot(last_gross_bps=self.last_gross_bps)

    @classmethod
    def restore(cls, params: BasisParams, costs: CostModel, snap: BasisSnapshot) -> BasisCore:
        """Rebuild from params, the current cost model and a snapshot."""
        core = cls(params, costs)
        core.last_gross_bps = snap.last_gross_bps
        return core


def hedge_in_contracts(
    notional: Decimal, spot_price: Decimal, future_price: Decimal, spot: LegSpec, future: LegSpec
) -> HedgeSizing:
    """Spot size from `notional` rounded down to the spot grid, hedged by
    round(spot size / contract size) whole contracts; the unhedged residual is reported
    (never more than half a contract)."""
    return size_legs(notional, spot_price, future_price, spot, future, match="base")
