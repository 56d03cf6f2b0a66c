"""Dual-leg recovery: partial fills hedged or unwound at once, timeouts to Reconciling and out of it
through `resolve`, fills that trail or repeat, exit retries, and restore-then-continue."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Any

import msgspec
import pytest

from shared.messages.base import Side
from shared.messages.orders import Purpose
from shared.messages.strategy import SignalAction
from shared.money import ZERO
from shared.strategies import ZERO_COSTS, Decision, DualLegSnapshot, DualLegStrategy, State
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
HALF = D("0.5")
ENTER_LONG = Decision(action=SignalAction.ENTER_LONG, reason="z_below_entry")
EXIT = Decision(action=SignalAction.EXIT, reason="z_within_exit")


def _entering() -> tuple[FakeVenue, list]:  # type: ignore[type-arg]
    m = machine()
    venue = FakeVenue(m)
    orders = venue.take(m.on_tick(T0, *quotes(T0, 100, 100), ENTER_LONG))
    assert [o.size for o in orders] == [D(10), D(10)]
    return venue, orders


def test_partial_fill_of_leg1_is_topped_up_as_soon_as_leg2_settles() -> None:
    venue, (o1, o2) = _entering()
    assert venue.fill(o1, T0, fraction=HALF).reason == "working"
    step = venue.fill(o2, T0)  # leg 2 done in full: leg 1 lags ⇒ hedge it now, on this event
    assert [(o.leg, o.side, o.size, o.purpose) for o in step.orders] == [(1, Side.BUY, D(5), Purpose.HEDGE)]
    assert venue.fill(step.orders[0], T0).state is State.IN_POSITION
    assert venue.machine.positions == (D(10), D(-10))


def test_failed_hedge_is_unwound_so_no_leg_is_left_unhedged() -> None:
    venue, (o1, o2) = _entering()
    venue.fill(o1, T0, fraction=D(0))  # leg 1 rejected outright
    hedge = venue.fill(o2, T0).orders[0]
    assert (hedge.leg, hedge.side, hedge.size) == (1, Side.BUY, D(10))
    unwind = venue.fill(hedge, T0, fraction=D(0)).orders[0]  # the hedge fails too
    assert (unwind.leg, unwind.side, unwind.size, unwind.purpose) == (2, Side.BUY, D(10), Purpose.UNWIND)
    step = venue.fill(unwind, T0)
    assert step.state is State.FLAT
    assert venue.machine.positions == (0, 0)


def test_partial_hedge_then_unwind_to_a_smaller_balanced_position() -> None:
    venue, (o1, o2) = _entering()
    venue.fill(o1, T0)
    hedge = venue.fill(o2, T0, fraction=D("0.4")).orders[0]
    assert (hedge.leg, hedge.side, hedge.size) == (2, Side.SELL, D(6))
    unwind = venue.fill(hedge, T0, fraction=D(0)).orders[0]
    assert (unwind.leg, unwind.side, unwind.size) == (1, Side.SELL, D(6))
    step = venue.fill(unwind, T0)
    assert (step.state, step.reason) == (State.IN_POSITION, "entry_partially_filled")
    assert venue.machine.positions == (D(4), D(-4))


def test_fill_trailing_its_done_event_is_waited_for() -> None:
    venue, (o1, o2) = _entering()
    m = venue.machine
    venue.fill(o1, T0)
    assert m.on_order_done(o2.seq, T0, filled_size=D(10)).reason == "working"
    assert m.on_fill(o2.seq, D(10), D(100), D(0), T0, trade_id="late").state is State.IN_POSITION


def test_duplicate_fill_is_ignored() -> None:
    venue, (o1, _) = _entering()
    m = venue.machine
    m.on_fill(o1.seq, D(3), D(100), D(0), T0, trade_id="x")
    assert m.on_fill(o1.seq, D(3), D(100), D(0), T0, trade_id="x").reason == "duplicate_fill"
    assert m.positions == (D(3), 0)


def test_fill_for_an_unknown_order_goes_to_reconciling() -> None:
    m = machine()
    assert m.on_fill(999, D(1), D(1), D(0), T0).state is State.RECONCILING


def test_hung_execution_times_out_to_reconciling_and_resolve_gets_out() -> None:
    """The original's "phoenix" test: both legs hang ⇒ after 30 s Reconciling; then recovery."""
    venue, _ = _entering()
    m = venue.machine
    assert m.on_timer(T0 + 30_000 * MS).state is State.ENTERING
    step = m.on_timer(T0 + 31_000 * MS)
    assert (step.state, step.reason, step.changed) == (State.RECONCILING, "execution_timeout", True)
    now = T0 + 32_000 * MS
    assert m.on_tick(now, *quotes(now, 100, 100), ENTER_LONG).reason == "busy_reconciling"
    step = m.resolve(now, D(0), D(0), (D(100), D(100)), reason="venue_flat")
    assert (step.state, step.reason) == (State.FLAT, "resolved_flat:venue_flat")


def test_resolve_to_a_hedged_position_then_exit_with_the_right_sides() -> None:
    venue, (o1, _o2) = _entering()
    m = venue.machine
    venue.fill(o1, T0, done=False)
    m.on_timer(T0 + 31_000 * MS)
    now = T0 + 40_000 * MS
    assert m.resolve(now, D(10), D(-10), (D(100), D(100))).state is State.IN_POSITION
    step = m.on_tick(now, *quotes(now, 102, 100), EXIT)
    assert [(o.leg, o.side, o.size) for o in step.orders] == [(1, Side.SELL, D(10)), (2, Side.BUY, D(10))]


def test_resolve_to_an_imbalanced_position_halts_with_a_reason_and_can_be_resolved_again() -> None:
    venue, _ = _entering()
    m = venue.machine
    m.on_timer(T0 + 31_000 * MS)
    step = m.resolve(T0 + 40_000 * MS, D(10), D(0), (D(100), D(100)))
    assert step.state is State.HALTED
    assert step.reason.startswith("imbalanced_after_reconcile")
    assert m.resolve(T0 + 50_000 * MS, D(0), D(0), (D(100), D(100))).state is State.FLAT


def test_resolve_outside_reconciling_is_refused() -> None:
    assert machine().resolve(T0, D(1), D(-1), (D(1), D(1))).reason == "not_reconciling"


def test_a_leg_left_unhedged_too_long_goes_to_reconciling() -> None:
    venue, (o1, _) = _entering()
    venue.fill(o1, T0, done=True)
    step = venue.machine.on_timer(T0 + 5_001 * MS)
    assert (step.state, step.reason) == (State.RECONCILING, "unhedged_timeout")


def _exiting_with_leg1_closed() -> tuple[FakeVenue, Any, int]:
    """In position, exit sent at T0 + 1 s, leg 1's exit filled; returns leg 2's exit order too."""
    venue, (o1, o2) = _entering()
    venue.fill(o1, T0)
    venue.fill(o2, T0)
    now = T0 + 1000 * MS
    e1, e2 = venue.take(venue.machine.on_tick(now, *quotes(now, 102, 100), EXIT))
    venue.fill(e1, now)
    return venue, e2, now


def test_partial_exit_retries_only_the_remaining_leg() -> None:
    venue, e2, now = _exiting_with_leg1_closed()
    m = venue.machine
    assert venue.fill(e2, now, fraction=D("0.3")).reason == "exit_retry_scheduled"
    retry = venue.take(m.on_timer(now + 500 * MS))
    assert [(o.leg, o.side, o.size, o.purpose) for o in retry] == [(2, Side.BUY, D(7), Purpose.FLATTEN)]
    assert venue.fill(retry[0], now).state is State.FLAT


def test_refused_exits_are_retried_on_the_timer_with_doubling_waits_then_reconciled() -> None:
    """A burst of refusals (risk just restarted) must not use up every exit try within
    milliseconds: each retry waits 0.5 s, 1 s, 2 s, and only then the machine gives up."""
    venue, e2, now = _exiting_with_leg1_closed()
    m = venue.machine
    assert m.on_order_done(e2.seq, now, filled_size=ZERO).reason == "exit_retry_scheduled"
    sent_at = []
    t = now
    for wait_ms in (500, 1000, 2000):
        assert not m.on_timer(t + (wait_ms - 1) * MS).orders  # not yet due
        t += wait_ms * MS
        step = m.on_tick(t, *quotes(t, 102, 100), EXIT)  # a tick drives the timer too
        (retry,) = step.orders
        assert (retry.leg, retry.purpose) == (2, Purpose.FLATTEN)
        sent_at.append(t)
        last = m.on_order_done(retry.seq, t, filled_size=ZERO)
    assert (last.state, last.reason) == (State.RECONCILING, "exit_incomplete")
    assert [b - a for a, b in pairwise([now, *sent_at])] == [500 * MS, 1000 * MS, 2000 * MS]


def test_halt_stops_entries() -> None:
    m = machine()
    m.halt(T0, "operator")
    assert m.on_tick(T0, *quotes(T0, 100, 100), ENTER_LONG).reason == "busy_halted"


def _script(strategy: DualLegStrategy, venue: FakeVenue, start: int, prices: list[tuple[int, int]]) -> list:  # type: ignore[type-arg]
    """Tick through `prices`, filling every order at once; returns everything the instance said."""
    out = []
    for i, (p1, p2) in enumerate(prices):
        now = T0 + (start + i) * 1000 * MS
        decision, step = strategy.on_tick(now, *quotes(now, p1, p2))
        out.append((decision, step))
        while step.orders:
            step = venue.fill_all(step, now)
            out.append(step)
    return out


PATH = [(100, 100)] * 4 + [(79, 100), (90, 100), (100, 100), (100, 100), (100, 100), (121, 100)]
PATH += [(110, 100), (100, 100)] + [(100 + i % 3, 100) for i in range(8)]


@pytest.mark.parametrize("codec", [msgspec.msgpack, msgspec.json])
@pytest.mark.parametrize("cut", [0, 4, 5, 6, 9, 10, 12, len(PATH)])
def test_restore_then_continue_equals_never_stopped(cut: int, codec: Any) -> None:
    params = pairs_params()
    whole = DualLegStrategy.pairs(params, (LEG_A, LEG_B), ZERO_COSTS)
    expected = _script(whole, FakeVenue(whole.machine), 0, PATH)
    assert any(s.state is State.EXITING for _, s in (e for e in expected if isinstance(e, tuple)))
    first = DualLegStrategy.pairs(params, (LEG_A, LEG_B), ZERO_COSTS)
    got = _script(first, FakeVenue(first.machine), 0, PATH[:cut])
    blob = codec.encode(first.snapshot())
    resumed = DualLegStrategy.restore(
        params, (LEG_A, LEG_B), ZERO_COSTS, codec.decode(blob, type=DualLegSnapshot)
    )
    got += _script(resumed, FakeVenue(resumed.machine), cut, PATH[cut:])
    assert got == expected
    assert resumed.snapshot() == whole.snapshot()
