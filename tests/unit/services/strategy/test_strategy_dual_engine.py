"""The dual-leg engine: coalesced quotes, client order ids ↔ sequences, feedback into the machine."""

from __future__ import annotations

import pytest

from services.strategy.build import build_engine
from services.strategy.config import StrategySettings
from services.strategy.dual_engine import DualEngine
from shared.messages.base import Side
from shared.messages.orders import OrderStatus, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import PairsParams, StrategySpec
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info, tick

SID, A, B = "pairs-1", "A-USD", "B-USD"


SPEC = StrategySpec(
    id=SID,
    params=PairsParams(
        leg1_id=A,
        leg2_id=B,
        window=5,
        entry_z=1.5,
        exit_z=0.2,
        hedge_ratio="fixed",
        notional=D(1000),
        entry_cooldown_ms=0,
        exit_cooldown_ms=0,
    ),
)
INFOS = {A: info(A, "0.001"), B: info(B, "0.001")}


def engine() -> DualEngine:
    built, warm = build_engine(SPEC, INFOS, StrategySettings(), None)
    assert isinstance(built, DualEngine)
    assert not warm
    return built


def enter(e: DualEngine) -> list:
    orders = []
    for i, p1 in enumerate([100, 100, 100, 100, 100, 110]):
        now = T0 + i * SECOND
        e.on_ticker(tick(B, 100, now))
        assert e.on_ticker(tick(A, p1, now))
        orders.extend(e.process(now).orders)
    return orders


def test_nothing_runs_until_both_legs_have_a_quote_and_a_burst_is_one_update() -> None:
    e = engine()
    assert not e.on_ticker(tick(A, 100, T0))
    assert e.on_ticker(tick(B, 100, T0))
    e.on_ticker(tick(A, 101, T0))
    e.process(T0)
    assert not e.process(T0).decision  # nothing new since


def test_entry_orders_map_back_from_their_client_order_ids_and_fills_reach_in_position() -> None:
    e = engine()
    legs = enter(e)
    assert [(o.seq, o.leg, o.side) for o in legs] == [(1, 1, Side.SELL), (2, 2, Side.BUY)]
    assert e.seq_of(client_order_id(SID, 2, 2)) == 2
    for o, product in zip(legs, (A, B), strict=True):
        e.on_fill(fill_of(SID, o.seq, o.leg, product, o.side, str(o.size)), T0)
        e.on_order_event(event_of(SID, o.seq, o.leg, product, o.side, OrderStatus.FILLED, str(o.size)), T0)
    assert e.state == "in_position"
    assert e.positions == ((A, -legs[0].size), (B, legs[1].size))


def test_an_unsendable_entry_leg_is_done_unfilled_and_the_other_is_unwound() -> None:
    e = engine()
    first, second = enter(e)
    e.on_fill(fill_of(SID, 1, 1, A, Side.SELL, str(first.size)), T0)
    e.on_order_event(event_of(SID, 1, 1, A, Side.SELL, OrderStatus.FILLED, str(first.size)), T0)
    out = e.on_order_unsendable(second.seq, T0, "below_min_size")
    assert out.changed
    assert [o.purpose.value for o in out.orders] == ["hedge"]


def test_a_refused_second_leg_is_hedged_then_the_first_unwound_at_once_and_the_unwind_fill_is_flat() -> None:
    e = engine()
    first, second = enter(e)
    e.on_fill(fill_of(SID, 1, 1, A, Side.SELL, str(first.size)), T0)
    e.on_order_event(event_of(SID, 1, 1, A, Side.SELL, OrderStatus.FILLED, str(first.size)), T0)
    hedge = e.on_order_refused(second.seq, T0, "KILL_SWITCH")
    assert hedge.changed
    assert [(o.purpose.value, o.leg, o.size) for o in hedge.orders] == [("hedge", 2, second.size)]
    assert e.on_order_refused(second.seq, T0, "KILL_SWITCH").orders == ()  # redelivered: no-op
    unwind = e.on_order_refused(hedge.orders[0].seq, T0, "KILL_SWITCH")
    assert [(o.purpose.value, o.leg, o.side, o.size) for o in unwind.orders] == [
        ("unwind", 1, Side.BUY, first.size)
    ]
    assert e.seq_of(client_order_id(SID, unwind.orders[0].seq, 1)) == unwind.orders[0].seq
    u = unwind.orders[0]
    e.on_fill(fill_of(SID, u.seq, 1, A, Side.BUY, str(u.size)), T0)
    e.on_order_event(event_of(SID, u.seq, 1, A, Side.BUY, OrderStatus.FILLED, str(u.size)), T0)
    assert e.state == "flat"
    assert e.positions == ((A, D(0)), (B, D(0)))


def test_when_every_unwind_is_refused_the_machine_gives_up_to_reconciling_without_waiting() -> None:
    e = engine()
    first, second = enter(e)
    e.on_fill(fill_of(SID, 1, 1, A, Side.SELL, str(first.size)), T0)
    e.on_order_event(event_of(SID, 1, 1, A, Side.SELL, OrderStatus.FILLED, str(first.size)), T0)
    purposes = []
    out = e.on_order_refused(second.seq, T0, "KILL_SWITCH")
    for _ in range(10):
        if not out.orders:
            break
        purposes.append(out.orders[0].purpose.value)
        out = e.on_order_refused(out.orders[0].seq, T0, "BREAKER_OPEN")
    assert purposes == ["hedge", "unwind", "unwind"]
    assert e.state == "reconciling"
    assert e.machine.st.reason == "balance_failed"


def test_a_refusal_of_an_order_we_do_not_know_or_that_is_done_changes_nothing() -> None:
    e = engine()
    first, _ = enter(e)
    e.on_order_event(event_of(SID, 1, 1, A, Side.SELL, OrderStatus.REJECTED, "0"), T0)
    assert not e.on_order_refused(first.seq, T0, "KILL_SWITCH").changed
    assert not e.on_order_refused(99, T0, "KILL_SWITCH").changed


def test_a_fill_for_an_order_we_do_not_know_moves_to_reconciling_and_resolve_leaves_it() -> None:
    e = engine()
    enter(e)
    e.on_fill(fill_of(SID, 99, 1, A, Side.BUY, "1"), T0)
    assert e.state == "reconciling"
    out = e.resolve(T0, (D(0), D(0)), (), "venue_flat")
    assert out.reason.startswith("resolved_flat")
    assert e.state == "flat"
    assert e.resolve(T0, (D(0),), (), "").reason == "resolve_needs_two_positions"


def test_a_basis_instance_enters_cash_and_carry_hedged_in_whole_contracts() -> None:
    from shared.messages import ProductInfo
    from shared.messages.strategy import BasisParams

    spot, future = "BTC-USD", "BIT-28NOV25-CDE"
    infos = {
        spot: info(spot, "0.00000001"),
        future: ProductInfo(
            venue="coinbase",
            product_id=future,
            base_increment=D(1),
            price_increment=D(5),
            contract_size=D("0.01"),
        ),
    }
    spec = StrategySpec(
        id="basis-1", params=BasisParams(spot_id=spot, future_id=future, notional=D(10_000), entry_bps=D(10))
    )
    e, _ = build_engine(spec, infos, StrategySettings(taker_fee_rate=D("0.0005")), None)
    assert isinstance(e, DualEngine)
    e.on_ticker(tick(spot, 100_000, T0))
    e.on_ticker(tick(future, 102_000, T0))  # 200 bps of contango, far above costs + 10 bps
    out = e.process(T0)
    assert [(o.leg, o.side) for o in out.orders] == [(1, Side.BUY), (2, Side.SELL)]
    assert out.orders[1].size == D(10)  # 0.1 BTC spot ↔ 10 nano contracts of 0.01 BTC
    assert e.state == "entering"


def restarted_while_entering() -> tuple[DualEngine, list]:
    """An instance that decided an entry, then restarted from its snapshot before any outcome."""
    first = engine()
    legs = enter(first)
    base = InstanceSnapshot(strategy_id=SID, params=SPEC.params, worker_id="w", saved_ns=T0)
    built, _ = build_engine(SPEC, INFOS, StrategySettings(), first.snapshot_into(base))
    assert isinstance(built, DualEngine)
    assert built.state == "entering"
    return built, legs


def test_stale_legs_sent_again_after_a_restart_and_refused_leave_the_machine_flat() -> None:
    e, legs = restarted_while_entering()
    outs = [e.on_order_refused(o.seq, T0 + 60 * SECOND, "STALE_INTENT") for o in legs]
    assert all(out.changed for out in outs)
    assert [o for out in outs for o in out.orders] == []  # nothing filled: nothing to hedge or unwind
    assert e.state == "flat"
    assert e.positions == ((A, D(0)), (B, D(0)))


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED])
def test_legs_execution_refused_past_deadline_or_after_a_halt_are_done_unfilled(status: OrderStatus) -> None:
    """Execution answers an approval past its deadline with EXPIRED and one from before a halt with
    CANCELLED, both with nothing filled: the machine is flat again at once."""
    e, legs = restarted_while_entering()
    outs = [
        e.on_order_event(event_of(SID, o.seq, o.leg, p, o.side, status, "0"), T0)
        for o, p in zip(legs, (A, B), strict=True)
    ]
    assert [o for out in outs for o in out.orders] == []
    assert e.state == "flat"
