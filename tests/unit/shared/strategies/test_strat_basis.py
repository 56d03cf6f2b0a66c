"""Basis: gross/net in bps with a passed-in cost model, net-vs-net thresholds, both carry directions,
and whole-contract hedge sizing with the residual reported."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from shared.messages.strategy import BasisParams, SignalAction
from shared.strategies import (
    ZERO_COSTS,
    BasisCore,
    CostModel,
    Direction,
    LegSpec,
    gross_basis_bps,
    hedge_in_contracts,
    net_basis_bps,
    size_legs,
)

D = Decimal
SPOT = LegSpec(product_id="BTC-USD", base_increment=D("0.00000001"))
NANO = LegSpec(product_id="BIT-28NOV26-CDE", base_increment=D(1), contract_size=D("0.01"))


def _params(**kw: object) -> BasisParams:
    base: dict[str, object] = {"spot_id": "BTC-USD", "future_id": "BIT-28NOV26-CDE"}
    base.update(kw)
    return BasisParams(**base)  # type: ignore[arg-type]


def test_gross_basis_bps() -> None:
    assert gross_basis_bps(D(100), D("100.2")) == D(20)
    assert gross_basis_bps(D(100), D("99.9")) == D(-10)
    assert gross_basis_bps(D(0), D(1)) == 0


def test_net_basis_uses_the_cost_model_passed_in() -> None:
    """The original's defaults (taker 20, slippage 5) give net = gross − 85, as its test had it."""
    costs = CostModel(taker_bps=D(20), slippage_bps=D(5))
    assert net_basis_bps(D(100), Direction.LONG, costs) == D(15)
    assert net_basis_bps(D(50), Direction.LONG, costs) == D(-35)
    assert net_basis_bps(D(-100), Direction.SHORT, costs) == D(15)


def test_cost_model_from_coinbase_fee_tier_rates() -> None:
    costs = CostModel.from_rates(maker_rate=D("0.0025"), taker_rate=D("0.004"), slippage_bps=D(3))
    assert (costs.maker_bps, costs.taker_bps) == (D(25), D(40))
    assert costs.round_trip_bps == D(163)


def test_original_basis_cycle_with_zero_costs() -> None:
    """10/2 bps thresholds, zero costs: 20 bps → enter, 5 bps → hold, 1 bps → exit."""
    core = BasisCore(_params(entry_bps=D(10), exit_bps=D(2)), ZERO_COSTS)
    assert core.update(D(100), D("100.2")).action is SignalAction.ENTER_LONG
    assert core.update(D(100), D("100.05"), Direction.LONG).action is SignalAction.HOLD
    assert core.update(D(100), D("100.01"), Direction.LONG).action is SignalAction.EXIT
    assert core.update(D(100), D("100.05")).action is SignalAction.HOLD


def test_exit_is_on_net_basis_not_gross() -> None:
    """With costs of 85 bps the original exited only once *gross* fell below 2 bps; on the net
    scale the exit comes when net (gross − 85) falls below exit_bps."""
    costs = CostModel(taker_bps=D(20), slippage_bps=D(5))
    core = BasisCore(_params(entry_bps=D(10), exit_bps=D(-40)), costs)
    assert core.update(D(10000), D(10096)).action is SignalAction.ENTER_LONG  # gross 96, net 11
    assert core.update(D(10000), D(10050), Direction.LONG).action is SignalAction.HOLD  # net −35
    exit_ = core.update(D(10000), D(10044), Direction.LONG)  # gross 44 > 2, net −41 < −40
    assert exit_.action is SignalAction.EXIT
    assert exit_.value == pytest.approx(-41)


def test_reverse_carry_only_when_allowed() -> None:
    assert BasisCore(_params(), ZERO_COSTS).update(D(100), D("99.8")).action is SignalAction.HOLD
    core = BasisCore(_params(allow_reverse=True), ZERO_COSTS)
    assert core.update(D(100), D("99.8")).action is SignalAction.ENTER_SHORT
    assert core.update(D(100), D("99.97"), Direction.SHORT).action is SignalAction.HOLD
    assert core.update(D(100), D("99.99"), Direction.SHORT).action is SignalAction.EXIT


def test_bad_prices_hold() -> None:
    core = BasisCore(_params(), ZERO_COSTS)
    assert core.update(D(0), D(1)).reason == "bad_price"
    assert core.update(D("NaN"), D(1)).reason == "bad_price"


def test_fee_tier_change_applies() -> None:
    core = BasisCore(_params(), ZERO_COSTS)
    assert core.update(D(100), D("100.2")).action is SignalAction.ENTER_LONG
    core.set_costs(CostModel(taker_bps=D(5)))
    assert core.update(D(100), D("100.2")).action is SignalAction.HOLD


def test_snapshot_round_trip() -> None:
    core = BasisCore(_params(), ZERO_COSTS)
    core.update(D(100), D("100.2"))
    again = BasisCore.restore(_params(), ZERO_COSTS, core.snapshot())
    assert again.last_gross_bps == D(20)


def test_hedge_in_btc_nano_contracts() -> None:
    """$10,000 at 97,000: 0.10309278 BTC spot → 10 contracts of 0.01; 0.00309278 BTC unhedged."""
    sizing = hedge_in_contracts(D(10000), D(97000), D(98000), SPOT, NANO)
    assert sizing.leg1_size == D("0.10309278")
    assert sizing.leg2_size == 10
    assert sizing.residual_base == D("0.00309278")
    assert sizing.residual_notional == D("0.00309278") * D(98000)


@settings(max_examples=200, deadline=None)
@given(
    gross=hs.decimals(-500, 500, places=4),
    taker=hs.decimals(0, 100, places=2),
    slip=hs.decimals(0, 50, places=2),
    direction=hs.sampled_from(Direction),
)
def test_net_never_exceeds_gross(gross: Decimal, taker: Decimal, slip: Decimal, direction: Direction) -> None:
    net = net_basis_bps(gross, direction, CostModel(taker_bps=taker, slippage_bps=slip))
    assert net <= abs(gross)
    assert net == gross * int(direction) - 4 * taker - slip


@settings(max_examples=200, deadline=None)
@given(
    notional=hs.decimals(50, 1_000_000, places=2),
    spot=hs.decimals(1000, 200_000, places=2),
    basis_bps=hs.integers(-300, 300),
)
def test_hedge_preserves_value_within_one_contract(notional: Decimal, spot: Decimal, basis_bps: int) -> None:
    future = spot * (1 + D(basis_bps) / 10000)
    sizing = hedge_in_contracts(notional, spot, future, SPOT, NANO)
    assert sizing.leg1_notional <= notional
    assert abs(sizing.residual_base) <= NANO.contract_size / 2
    hedged_base = sizing.leg2_size * NANO.contract_size
    assert abs(sizing.leg1_size - hedged_base) * spot <= NANO.contract_size * spot
    assert sizing.leg2_size == (sizing.leg1_size / NANO.contract_size).quantize(D(1))


@settings(max_examples=200, deadline=None)
@given(
    notional=hs.decimals(10, 1_000_000, places=2),
    p1=hs.decimals(D("0.01"), 100_000, places=4),
    p2=hs.decimals(D("0.01"), 100_000, places=4),
    ratio=hs.decimals(D("0.2"), 5, places=3),
)
def test_dollar_neutral_pairs_sizing_is_within_half_an_increment(
    notional: Decimal, p1: Decimal, p2: Decimal, ratio: Decimal
) -> None:
    leg = LegSpec(product_id="X", base_increment=D("0.0001"))
    sizing = size_legs(notional, p1, p2, leg, leg, ratio=ratio)
    assert 0 <= sizing.leg1_notional <= notional
    target = sizing.leg1_notional * ratio
    assert abs(sizing.leg2_notional - target) <= leg.base_increment * p2 / 2 + D("1e-18")
    assert sizing.residual_notional == pytest.approx(target - sizing.leg2_notional)
