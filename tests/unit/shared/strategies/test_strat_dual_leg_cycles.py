"""Dual-leg cycles driven by fills: the original's pairs and basis cycles, the short spread with its
correctly-sided exit, the PnL gate, the every-tick stop loss, cooldowns and tick freshness."""

from __future__ import annotations

from decimal import Decimal

from shared.messages.base import Side
from shared.messages.orders import Purpose
from shared.messages.strategy import BasisParams, SignalAction
from shared.strategies import ZERO_COSTS, CostModel, Decision, DualLegStrategy, LegSpec, State
from tests.unit.shared.strategies.helpers import (
    LEG_A,
    LEG_B,
    MS,
    T0,
    FakeVenue,
    machine,
    pairs_params,
    quotes,
)

D = Decimal
HOLD = Decision()
ENTER_LONG = Decision(action=SignalAction.ENTER_LONG, reason="z_below_entry")
ENTER_SHORT = Decision(action=SignalAction.ENTER_SHORT, reason="z_above_entry")
EXIT = Decision(action=SignalAction.EXIT, reason="z_within_exit")


def _warm(strategy: DualLegStrategy, n: int = 4) -> int:
    now = T0
    for _ in range(n):
        now += 1000 * MS
        _, step = strategy.on_tick(now, *quotes(now, 100, 100))
        assert not step.orders
    return now


def test_original_pairs_cycle_long_spread() -> None:
    """Window 5, entry 1.9, exit 1.0: A drops 100→79 ⇒ buy A / sell B; re-converges ⇒ sell A / buy B."""
    strategy = DualLegStrategy.pairs(pairs_params(), (LEG_A, LEG_B), ZERO_COSTS)
    venue = FakeVenue(strategy.machine)
    now = _warm(strategy) + 1000 * MS
    decision, step = strategy.on_tick(now, *quotes(now, 79, 100))
    assert decision.action is SignalAction.ENTER_LONG
    assert step.state is State.ENTERING
    assert [(o.leg, o.side, o.size, o.purpose) for o in step.orders] == [
        (1, Side.BUY, D("12.6582"), Purpose.ENTRY),
        (2, Side.SELL, D("10.0000"), Purpose.ENTRY),
    ]
    assert venue.fill_all(step, now).state is State.IN_POSITION
    now += 1000 * MS
    decision, step = strategy.on_tick(now, *quotes(now, 100, 100))
    assert decision.action is SignalAction.EXIT
    assert step.state is State.EXITING
    assert [(o.leg, o.side, o.size) for o in step.orders] == [
        (1, Side.SELL, D("12.6582")),
        (2, Side.BUY, D("10.0000")),
    ]
    done = venue.fill_all(step, now)
    assert done.state is State.FLAT
    assert strategy.machine.st.realized_pnl == D("12.6582") * 21


def test_short_spread_entry_exits_with_the_opposite_sides() -> None:
    """The original always sold leg 1 on exit, so a short spread was never closed correctly."""
    strategy = DualLegStrategy.pairs(pairs_params(), (LEG_A, LEG_B), ZERO_COSTS)
    venue = FakeVenue(strategy.machine)
    now = _warm(strategy) + 1000 * MS
    decision, step = strategy.on_tick(now, *quotes(now, 121, 100))
    assert decision.action is SignalAction.ENTER_SHORT
    assert [(o.leg, o.side) for o in step.orders] == [(1, Side.SELL), (2, Side.BUY)]
    venue.fill_all(step, now)
    assert strategy.machine.positions == (D("-8.2644"), D("9.9999"))
    now += 1000 * MS
    _, step = strategy.on_tick(now, *quotes(now, 100, 100))
    assert [(o.leg, o.side, o.purpose) for o in step.orders] == [
        (1, Side.BUY, Purpose.EXIT),
        (2, Side.SELL, Purpose.EXIT),
    ]
    assert venue.fill_all(step, now).state is State.FLAT
    assert strategy.machine.positions == (0, 0)
    assert strategy.machine.st.realized_pnl > 0


def test_original_basis_cycle_in_whole_contracts() -> None:
    """Zero costs, 10/2 bps: 20 bps ⇒ long spot / short 1 nano contract; 1 bps ⇒ unwind both."""
    params = BasisParams(
        spot_id="BTC-USD",
        future_id="BIT-FUT",
        notional=D(1000),
        entry_cooldown_ms=0,
        exit_cooldown_ms=0,
        min_profit_bps=D(-50),
    )
    spot = LegSpec(product_id="BTC-USD", base_increment=D("0.00000001"))
    nano = LegSpec(product_id="BIT-FUT", base_increment=D(1), contract_size=D("0.01"))
    strategy = DualLegStrategy.basis(params, (spot, nano), ZERO_COSTS)
    venue = FakeVenue(strategy.machine)
    now = T0
    decision, step = strategy.on_tick(now, *quotes(now, 97000, "97194"))
    assert decision.action is SignalAction.ENTER_LONG
    assert [(o.leg, o.side, o.size) for o in step.orders] == [
        (1, Side.BUY, D("0.01030927")),
        (2, Side.SELL, D(1)),
    ]
    assert venue.fill_all(step, now).state is State.IN_POSITION
    now += 1000 * MS
    decision, step = strategy.on_tick(now, *quotes(now, 97000, "97009.7"))
    assert decision.action is SignalAction.EXIT
    assert [(o.leg, o.side, o.size) for o in step.orders] == [
        (1, Side.SELL, D("0.01030927")),
        (2, Side.BUY, D(1)),
    ]
    assert venue.fill_all(step, now).state is State.FLAT


def _in_position(
    m_params: dict[str, object] | None = None, costs: CostModel | None = None
) -> tuple[FakeVenue, int]:
    m = machine(pairs_params(**(m_params or {})), costs)
    venue = FakeVenue(m)
    step = m.on_tick(T0, *quotes(T0, 100, 100), ENTER_LONG)
    assert venue.fill_all(step, T0).state is State.IN_POSITION
    return venue, T0


def test_stop_loss_fires_on_a_tick_without_any_signal_and_ignores_the_exit_cooldown() -> None:
    venue, now = _in_position({"exit_cooldown_ms": 60_000, "stop_loss_bps": D(-100)})
    m = venue.machine
    now += 1000 * MS
    assert m.on_tick(now, *quotes(now, "99.5", 100), HOLD).state is State.IN_POSITION  # −50 bps
    now += 1000 * MS
    step = m.on_tick(now, *quotes(now, 98, 100), HOLD)  # −200 bps, no signal at all
    assert step.state is State.EXITING
    assert step.reason.startswith("stop_loss")
    assert [(o.leg, o.side) for o in step.orders] == [(1, Side.SELL), (2, Side.BUY)]


def test_pnl_gate_holds_an_exit_below_min_profit_with_fees_included() -> None:
    costs = CostModel(taker_bps=D(10), slippage_bps=D(2))
    venue, now = _in_position({"min_profit_bps": D(5)}, costs)
    m = venue.machine
    now += 1000 * MS
    # +20 bps on leg 1 gross; exit costs 12 bps on each leg's notional ≈ 24 bps ⇒ net < 5.
    step = m.on_tick(now, *quotes(now, "100.2", 100), EXIT)
    assert step.state is State.IN_POSITION
    assert step.reason.startswith("pnl_gate")
    step = m.on_tick(now, *quotes(now, "100.4", 100), EXIT)  # +40 − ~24 ⇒ ≈ 16 bps
    assert step.state is State.EXITING


def test_opposite_entry_signal_counts_as_exit() -> None:
    venue, now = _in_position()
    step = venue.machine.on_tick(now + MS, *quotes(now + MS, 103, 100), ENTER_SHORT)
    assert step.state is State.EXITING


def test_cooldowns() -> None:
    venue, now = _in_position({"entry_cooldown_ms": 10_000, "exit_cooldown_ms": 5_000})
    m = venue.machine
    step = m.on_tick(now + 1000 * MS, *quotes(now + 1000 * MS, 103, 100), EXIT)
    assert step.reason == "exit_cooldown"
    now += 6000 * MS
    step = m.on_tick(now, *quotes(now, 103, 100), EXIT)
    assert venue.fill_all(step, now).state is State.FLAT
    assert (
        m.on_tick(now + 9000 * MS, *quotes(now + 9000 * MS, 100, 100), ENTER_LONG).reason == "entry_cooldown"
    )
    assert (
        m.on_tick(now + 10_000 * MS, *quotes(now + 10_000 * MS, 100, 100), ENTER_LONG).state is State.ENTERING
    )


def test_stale_and_skewed_ticks_are_refused_before_the_core_sees_them() -> None:
    strategy = DualLegStrategy.pairs(pairs_params(max_tick_age_ms=2000), (LEG_A, LEG_B), ZERO_COSTS)
    before = strategy.snapshot()
    now = T0
    _, step = strategy.on_tick(now, *quotes(now, 100, 100, age_ms=2001))
    assert step.reason == "stale_tick_leg1"
    q1, q2 = quotes(now, 100, 100)
    q2 = type(q2)(price=q2.price, ts_ns=now - 2500 * MS)
    assert strategy.on_tick(now, q1, q2)[1].reason == "stale_tick_leg2"
    q1 = type(q1)(price=q1.price, ts_ns=now + 1500 * MS)
    q2 = type(q2)(price=q2.price, ts_ns=now - 1500 * MS)
    assert strategy.on_tick(now, q1, q2)[1].reason == "legs_skewed"
    assert strategy.snapshot() == before
    assert strategy.machine.on_tick(now, *quotes(now, 0, 100), ENTER_LONG).reason == "bad_price_leg1"


def test_tiny_notional_rounds_to_zero_and_holds() -> None:
    m = machine(pairs_params(notional=D("0.001")))
    assert m.on_tick(T0, *quotes(T0, 100, 100), ENTER_LONG).reason == "size_rounds_to_zero"
