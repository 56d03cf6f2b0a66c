"""Pairs core: z-score both ways, hedge-ratio options, guards that hold instead of raising, snapshots."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from shared.messages.strategy import PairsParams, SignalAction
from shared.strategies import PairsCore

D = Decimal


def _params(**kw: object) -> PairsParams:
    base: dict[str, object] = {
        "leg1_id": "A-USD",
        "leg2_id": "B-USD",
        "window": 5,
        "entry_z": 1.9,
        "exit_z": 1.0,
        "hedge_ratio": "fixed",
    }
    base.update(kw)
    return PairsParams(**base)  # type: ignore[arg-type]


def _feed(core: PairsCore, pairs: list[tuple[float, float]]) -> list[SignalAction]:
    return [core.update(D(str(a)), D(str(b))).action for a, b in pairs]


def test_original_scenario_long_entry_then_exit_on_reconvergence() -> None:
    """Window 5, entry 1.9, exit 1.0: flat prices, A drops 100→79 ⇒ long spread; A back ⇒ exit."""
    core = PairsCore(_params())
    assert _feed(core, [(100, 100)] * 4) == [SignalAction.HOLD] * 4
    drop = core.update(D(79), D(100))
    assert drop.action is SignalAction.ENTER_LONG
    assert drop.value == pytest.approx(-2.0)
    back = core.update(D(100), D(100))
    assert back.action is SignalAction.EXIT
    assert back.value == pytest.approx(0.5)


def test_short_spread_entry_when_leg1_jumps() -> None:
    """The original (seed) could only go long the spread; z > entry now shorts it."""
    core = PairsCore(_params())
    _feed(core, [(100, 100)] * 4)
    up = core.update(D(121), D(100))
    assert up.action is SignalAction.ENTER_SHORT
    assert up.value == pytest.approx(2.0)


def test_warming_up_and_between_thresholds() -> None:
    core = PairsCore(_params(entry_z=1.95, exit_z=0.1))
    reasons = [core.update(D(100 + i), D(100)).reason for i in range(5)]
    assert reasons[:4] == ["window_warming_up"] * 4
    assert reasons[4] == "z_between"


@pytest.mark.parametrize(
    ("p1", "p2", "reason"),
    [
        ("0", "1", "bad_price"),
        ("-1", "1", "bad_price"),
        ("NaN", "1", "bad_price"),
        ("sNaN", "1", "bad_price"),
        ("Infinity", "1", "bad_price"),
        ("1e-13", "1", "price_ratio_out_of_bounds"),
        ("1e13", "1", "price_ratio_out_of_bounds"),
        ("1e400", "1", "bad_price"),
    ],
)
def test_guards_hold_and_never_raise(p1: str, p2: str, reason: str) -> None:
    core = PairsCore(_params())
    d = core.update(D(p1), D(p2))
    assert (d.action, d.reason) == (SignalAction.HOLD, reason)
    assert core.rejections == 1


def test_near_bound_ratio_is_accepted_but_counted() -> None:
    core = PairsCore(_params())
    core.update(D("1e-11"), D(1))
    assert core.precision_warnings == 1
    assert core.rejections == 0


def _cointegrated(n: int, beta: float, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    lx, out = math.log(50.0), []
    for _ in range(n):
        lx += rng.gauss(0, 0.01)
        ly = 0.2 + beta * lx + rng.gauss(0, 0.002)
        out.append((round(math.exp(ly), 6), round(math.exp(lx), 6)))
    return out


def test_ols_hedge_ratio_recovers_beta_and_waits_for_its_window() -> None:
    core = PairsCore(_params(hedge_ratio="ols", window=30, hedge_window=60, entry_z=3.0, exit_z=0.5))
    data = _cointegrated(400, 1.4, seed=1)
    first = [core.update(D(str(a)), D(str(b))) for a, b in data[:60]]
    assert {d.reason for d in first} == {"hedge_warming_up"}
    last = [core.update(D(str(a)), D(str(b))) for a, b in data[60:]][-1]
    assert last.hedge_ratio == pytest.approx(1.4, abs=0.1)


def test_kalman_option() -> None:
    core = PairsCore(_params(hedge_ratio="kalman", window=20, kalman_warmup=30, entry_z=3.0))
    decisions = [core.update(D(str(a)), D(str(b))) for a, b in _cointegrated(300, 1.0, seed=2)]
    assert decisions[0].reason == "hedge_warming_up"
    assert all(math.isfinite(d.value) for d in decisions)
    assert decisions[-1].hedge_ratio > 0


def test_degenerate_ols_keeps_last_good_beta() -> None:
    """Leg 2 flat for a whole window: the slope is not identified; β stays at its last value (1)."""
    core = PairsCore(_params(hedge_ratio="ols"))
    decisions = [core.update(D(100 + i % 3), D(100)) for i in range(20)]
    assert decisions[-1].hedge_ratio == 1.0
    assert decisions[-1].reason != "hedge_warming_up"


prices = hs.decimals(min_value=D("0.0001"), max_value=D(1_000_000), places=4)


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.tuples(prices, prices), min_size=1, max_size=40))
def test_z_is_finite_for_valid_input(series: list[tuple[Decimal, Decimal]]) -> None:
    core = PairsCore(_params(hedge_ratio="ols"))
    for p1, p2 in series:
        d = core.update(p1, p2)
        assert math.isfinite(d.value)
        assert math.isfinite(d.hedge_ratio)
        assert d.hedge_ratio > 0


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.tuples(prices, prices), min_size=5, max_size=30))
def test_z_is_antisymmetric_when_the_legs_swap(series: list[tuple[Decimal, Decimal]]) -> None:
    """Swapping the legs negates the spread, so z flips sign and the entry side flips."""
    a, b = PairsCore(_params()), PairsCore(_params())
    for p1, p2 in series:
        da, db = a.update(p1, p2), b.update(p2, p1)
        assert da.value == pytest.approx(-db.value, abs=1e-6)
        mirrored = {
            SignalAction.ENTER_LONG: SignalAction.ENTER_SHORT,
            SignalAction.ENTER_SHORT: SignalAction.ENTER_LONG,
        }
        if abs(da.value) > 1.9 + 1e-6:
            assert mirrored[da.action] is db.action


@pytest.mark.parametrize("mode", ["fixed", "ols", "kalman"])
@pytest.mark.parametrize("cut", [0, 7, 40, 99])
def test_restore_then_continue_equals_never_stopped(mode: str, cut: int) -> None:
    params = _params(hedge_ratio=mode, window=10, kalman_warmup=10, entry_z=2.5, exit_z=0.3)
    data = [(D(str(a)), D(str(b))) for a, b in _cointegrated(150, 1.1, seed=cut)]
    whole = PairsCore(params)
    expected = [whole.update(a, b) for a, b in data]
    first = PairsCore(params)
    got = [first.update(a, b) for a, b in data[:cut]]
    resumed = PairsCore.restore(params, first.snapshot())
    got += [resumed.update(a, b) for a, b in data[cut:]]
    assert got == expected
