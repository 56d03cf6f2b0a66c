"""Any `TwoLegStrategy` on the dual-leg machine: entry, partial fill hedged, exit; the restricted
context; snapshot and restore (machine always, the strategy's state only under its fingerprint)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from shared.messages.base import Side
from shared.messages.orders import Purpose, client_order_id
from shared.messages.strategy import SignalAction
from shared.sdk import Context, Decision, Direction, OrderState
from shared.sdk.twoleg import TwoLegContextError, TwoLegRunner, TwoLegSnapshot
from shared.strategies import CostModel, State, Step
from tests.unit.shared.sdk.helpers_twoleg import INFOS, A, B, RatioReversion, product, ratio_params
from tests.unit.shared.strategies.helpers import MS, T0, FakeVenue, quotes

D = Decimal
S = 1000 * MS
COSTS = CostModel(taker_bps=D(0))
Logs = list[tuple[int, str, dict[str, Any]]]


def runner(snap: TwoLegSnapshot | None = None, logs: Logs | None = None, **kw: object) -> TwoLegRunner:
    sink = logs.append if logs is not None else None

    def record(now: int, event: str, fields: dict[str, Any]) -> None:
        if sink is not None:
            sink((now, event, fields))

    return TwoLegRunner("ratio-1", RatioReversion(ratio_params(**kw)), INFOS, COSTS, snap, sink=record)


def warm(r: TwoLegRunner, n: int = 4) -> int:
    """n flat ticks (the window fills); returns the time of the last."""
    now = T0
    for i in range(n):
        now = T0 + i * S
        decision, step = r.on_tick(now, *quotes(now, 100, 100))
        assert decision.reason == "window_filling"
        assert not step.orders
    return now


def enter(r: TwoLegRunner) -> tuple[int, Step]:
    now = warm(r) + S
    decision, step = r.on_tick(now, *quotes(now, 90, 100))
    assert decision.action is SignalAction.ENTER_LONG
    return now, step


def test_a_ratio_strategy_enters_hedges_a_partial_fill_and_exits_through_the_machine() -> None:
    logs: Logs = []
    r = runner(logs=logs)
    venue = FakeVenue(r.machine)
    now, step = enter(r)
    assert logs == [(now, "ratio_low", {"dev": pytest.approx(-0.1), "position": D(0)})]
    leg1, leg2 = venue.take(step)
    assert [(o.leg, o.side, o.size) for o in (leg1, leg2)] == [
        (1, Side.BUY, D("11.111")),
        (2, Side.SELL, D(10)),
    ]
    venue.fill(leg1, now)
    step = venue.fill(leg2, now, fraction=D("0.5"))  # leg 2 half filled, then done
    (hedge,) = step.orders
    assert (hedge.leg, hedge.side, hedge.size, hedge.purpose) == (2, Side.SELL, D(5), Purpose.HEDGE)
    assert venue.fill(hedge, now).state is State.IN_POSITION
    assert r.machine.positions == (D("11.111"), D(-10))
    now += S
    decision, step = r.on_tick(now, *quotes(now, 100, 100))
    assert decision.action is SignalAction.EXIT
    assert [(o.leg, o.side, o.size, o.purpose) for o in step.orders] == [
        (1, Side.SELL, D("11.111"), Purpose.EXIT),
        (2, Side.BUY, D(10), Purpose.EXIT),
    ]
    assert venue.fill_all(step, now).state is State.FLAT
    assert r.machine.st.realized_pnl == D("11.111") * 10


def test_the_strategy_sees_every_fresh_pair_while_the_machine_is_busy_but_not_a_stale_one() -> None:
    r = runner()
    now, _ = enter(r)
    strategy = r.strategy
    assert isinstance(strategy, RatioReversion)
    seen = strategy.seen
    decision, step = r.on_tick(now + S, *quotes(now + S, 91, 100))
    assert step.reason == "busy_entering"
    assert strategy.seen == seen + 1
    decision, step = r.on_tick(now + 10 * S, *quotes(now + 10 * S, 91, 100, age_ms=5_000))
    assert decision.reason == "stale_tick_leg1"
    assert strategy.seen == seen + 1


def test_a_short_signal_sizes_leg_two_in_base_when_the_strategy_hedges_in_base() -> None:
    class BaseHedged(RatioReversion):
        hedge = "base"

    r = TwoLegRunner("b", BaseHedged(ratio_params()), INFOS, COSTS)
    now = warm(r) + S
    _, step = r.on_tick(now, *quotes(now, 110, 100))
    assert [(o.leg, o.side, o.size) for o in step.orders] == [
        (1, Side.SELL, D("9.090")),
        (2, Side.BUY, D("9.090")),
    ]


def test_warm_up_folds_closes_into_the_signal_with_warming_up_and_trades_nothing() -> None:
    r = runner()
    flags: list[bool] = []
    strategy = r.strategy
    assert isinstance(strategy, RatioReversion)
    original = strategy.signal

    def spy(p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
        flags.append(ctx.warming_up)
        ctx.signal(SignalAction.BUY, reason="ignored in warm-up")
        return original(p1, p2, held, ctx)

    strategy.signal = spy  # type: ignore[method-assign]
    for i in range(4):
        r.warm(T0 + i * S, D(100), D(100))
    decision = r.warm(T0 + 4 * S, D(80), D(100))
    assert decision.action is SignalAction.ENTER_LONG  # decided, but nothing is sent
    assert r.machine.state is State.FLAT
    assert r.machine.st.orders == []
    assert r.take_signal() is None
    now = T0 + 5 * S
    r.on_tick(now, *quotes(now, 100, 100))
    assert flags == [True] * 5 + [False]
    assert r.take_signal() == Decision(action=SignalAction.BUY, reason="ignored in warm-up")
    assert r.ctx.price(A) == D(100)
    assert r.ctx.now_ns == now


ORDER_CALLS: list[tuple[str, Callable[[Context], object]]] = [
    ("buy", lambda ctx: ctx.buy(A, D(1))),
    ("sell", lambda ctx: ctx.sell(A, D(1), limit=D(100))),
    ("close", lambda ctx: ctx.close(A)),
    ("cancel", lambda ctx: ctx.cancel("x")),
    ("cancel_all", lambda ctx: ctx.cancel_all()),
    ("replace", lambda ctx: ctx.replace("x", limit=D(1))),
    ("exits", lambda ctx: ctx.exits(A, stop_loss=D(1))),
]


@pytest.mark.parametrize(("name", "call"), ORDER_CALLS, ids=[n for n, _ in ORDER_CALLS])
def test_order_methods_of_the_context_refuse_with_a_clear_error(
    name: str, call: Callable[[Context], object]
) -> None:
    r = runner()
    with pytest.raises(TwoLegContextError, match=rf"ctx\.{name}\(\) is not available to a TwoLegStrategy"):
        call(r.ctx)


def test_the_context_reads_legs_costs_prices_positions_and_the_machines_orders() -> None:
    r = runner()
    ctx = r.ctx
    assert ctx.product(B) == INFOS[1]
    assert ctx.price(A) is None
    assert ctx.costs == COSTS
    now, step = enter(r)
    assert (ctx.price(A), ctx.price(B), ctx.position(A)) == (D(90), D(100), D(0))
    assert ctx.round_price(A, D("90.005"), Side.BUY) == D("90.00")
    assert ctx.round_price(A, D("90.001"), Side.SELL) == D("90.01")
    first_id = client_order_id("ratio-1", 1, 1)
    assert [(v.id, v.product_id, v.state, v.tag) for v in ctx.open_orders()] == [
        (first_id, A, OrderState.SENT, "entry"),
        (client_order_id("ratio-1", 2, 2), B, OrderState.SENT, "entry"),
    ]
    assert [v.product_id for v in ctx.open_orders(B)] == [B]
    FakeVenue(r.machine).fill(step.orders[0], now)
    view = ctx.order(first_id)
    assert view is not None
    assert (view.state, view.filled) == (OrderState.FILLED, D("11.111"))
    assert ctx.position(A) == D("11.111")
    assert ctx.order("nope") is None
    r.set_costs(CostModel(taker_bps=D(6)))
    assert ctx.costs.taker_bps == D(6)
    with pytest.raises(ValueError, match="C-USD is not a leg of this strategy"):
        ctx.position("C-USD")


def test_a_signal_that_returns_something_else_than_a_decision_is_a_type_error() -> None:
    class Broken(RatioReversion):
        def signal(self, p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
            return "enter"  # type: ignore[return-value]

    r = TwoLegRunner("x", Broken(ratio_params()), INFOS, COSTS)
    with pytest.raises(TypeError, match=r"Broken.signal\(\) returned str, not a Decision"):
        r.on_tick(T0, *quotes(T0, 100, 100))


def test_legs_must_be_two_products_given_in_order_and_the_hedge_rule_known() -> None:
    with pytest.raises(ValueError, match="do not match"):
        TwoLegRunner("x", RatioReversion(ratio_params()), (INFOS[1], INFOS[0]), COSTS)
    with pytest.raises(ValueError, match="two different products"):
        TwoLegRunner("x", RatioReversion(ratio_params(leg2=A)), (INFOS[0], INFOS[0]), COSTS)

    class Odd(RatioReversion):
        hedge = "beta"  # type: ignore[assignment]

    with pytest.raises(ValueError, match="hedge must be 'notional' or 'base'"):
        TwoLegRunner("x", Odd(ratio_params()), INFOS, COSTS)


def test_a_restore_keeps_the_machine_and_with_the_same_fingerprint_the_strategy_state() -> None:
    first = runner()
    now, step = enter(first)
    snap = first.snapshot()
    again = runner(snap)
    assert again.restored_warm
    assert again.machine.state is State.ENTERING
    assert again.machine.st.next_seq == 3
    restored, original = again.strategy, first.strategy
    assert isinstance(restored, RatioReversion)
    assert isinstance(original, RatioReversion)
    assert (list(restored.ratios), restored.seen) == (list(original.ratios), original.seen)
    venue = FakeVenue(again.machine)
    assert venue.fill_all(step, now).state is State.IN_POSITION
    decision, _ = again.on_tick(now + S, *quotes(now + S, 100, 100))
    assert decision.action is SignalAction.EXIT  # the restored window, not an empty one


def test_changed_params_keep_the_machine_but_start_the_strategy_fresh() -> None:
    first = runner()
    enter(first)
    snap = first.snapshot()
    again = runner(snap, band=0.06)
    assert not again.restored_warm
    assert again.machine.state is State.ENTERING
    assert again.machine.st.next_seq == 3
    strategy = again.strategy
    assert isinstance(strategy, RatioReversion)
    assert strategy.seen == 0


def test_unreadable_state_under_the_right_fingerprint_is_dropped_and_logged() -> None:
    first = runner()
    enter(first)
    snap = first.snapshot()
    logs: Logs = []
    bad = TwoLegSnapshot(machine=snap.machine, state=b"not a pickle", fingerprint=snap.fingerprint)
    again = runner(bad, logs=logs)
    assert not again.restored_warm
    assert again.machine.state is State.ENTERING
    assert [event for _, event, _ in logs] == ["strategy_state_dropped"]


def test_a_fresh_runner_starts_its_order_sequence_where_a_retired_instance_stopped() -> None:
    r = TwoLegRunner("x", RatioReversion(ratio_params()), INFOS, COSTS, next_seq=41)
    now = warm(r) + S
    _, step = r.on_tick(now, *quotes(now, 90, 100))
    assert [o.seq for o in step.orders] == [41, 42]


def test_a_future_leg_is_sized_in_whole_contracts() -> None:
    spot, future = product("BTC-USD", "0.00000001"), product("BIP-CDE", "1", "0.01")

    class Carry(RatioReversion):
        hedge = "base"

    params = ratio_params(leg1="BTC-USD", leg2="BIP-CDE", notional=D(9_000))
    r = TwoLegRunner("c", Carry(params), (spot, future), COSTS)
    now = warm(r) + S
    _, step = r.on_tick(now, *quotes(now, 90, 100))
    assert [(o.side, o.size) for o in step.orders] == [(Side.BUY, D(100)), (Side.SELL, D(10_000))]
