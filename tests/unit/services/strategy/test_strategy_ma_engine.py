"""The MA engine: bars from ticks on event time, rounded orders, position from fills."""

from __future__ import annotations

import pytest

from services.strategy.ma_engine import MaEngine
from shared.messages.base import Side
from shared.messages.orders import OrderStatus, Purpose, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams, SignalAction
from shared.strategies import MaCrossover
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info, tick

SID, P = "ma-1", "BTC-USD"


def engine(order_size: str = "0.00123456", min_size: str = "0") -> MaEngine:
    params = MaCrossoverParams(
        product_id=P, short_window=2, long_window=3, interval_s=1, order_size=D(order_size)
    )
    return MaEngine(SID, params, info(P, min_size=min_size), timeout_s=5.0)


def drive(e: MaEngine, prices: list[int]) -> list:
    outcomes = []
    for i, price in enumerate(prices):
        if e.on_ticker(tick(P, price, T0 + i * SECOND)):
            outcomes.append(e.process(T0 + i * SECOND))
    return outcomes


GOLDEN = [100, 100, 100, 100, 90, 80, 70, 120, 150]


def test_a_bar_closes_on_the_first_tick_of_a_later_bucket_and_its_last_price_is_the_close() -> None:
    e = engine()
    assert not e.on_ticker(tick(P, 100, T0))
    assert not e.on_ticker(tick(P, 101, T0 + SECOND // 2))  # same bucket: the close moves
    assert e.on_ticker(tick(P, 105, T0 + SECOND))
    e.process(T0 + SECOND)
    assert e.core.snapshot().last_start == T0 // SECOND
    assert e.core.snapshot().short.xs == [101.0]


def test_golden_cross_buys_order_size_rounded_down_and_fills_make_the_position() -> None:
    e = engine()
    orders = [o for out in drive(e, GOLDEN) for o in out.orders]
    assert len(orders) == 1
    buy = orders[0]
    assert (buy.seq, buy.leg, buy.side, buy.size, buy.purpose) == (1, 1, Side.BUY, D("0.0012"), Purpose.ENTRY)
    assert e.state == "entering"
    e.on_fill(fill_of(SID, 1, 1, P, Side.BUY, "0.0012"), T0)
    e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, OrderStatus.FILLED, "0.0012"), T0)
    assert e.state == "in_position"
    assert e.positions == ((P, D("0.0012")),)
    assert e.on_fill(fill_of(SID, 1, 1, P, Side.BUY, "0.0012"), T0).reason == "duplicate_fill"


def test_a_rejected_entry_puts_the_core_flag_back() -> None:
    e = engine()
    drive(e, GOLDEN)
    assert e.core.position_open
    e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, OrderStatus.REJECTED, "0"), T0)
    assert not e.core.position_open
    assert e.state == "flat"


def test_a_refused_entry_stops_waiting_at_once_and_puts_the_core_flag_back() -> None:
    e = engine()
    drive(e, GOLDEN)
    assert e.state == "entering"
    out = e.on_order_refused(1, T0, "KILL_SWITCH")
    assert out.changed
    assert out.reason == "order_refused:KILL_SWITCH"
    assert not e.core.position_open
    assert e.state == "flat"
    assert not e.on_order_refused(1, T0, "KILL_SWITCH").changed  # redelivered: nothing to do
    assert not e.on_timer(T0 + 60 * SECOND).changed  # no execution timeout left to wait for


def test_below_the_minimum_size_nothing_is_sent_and_the_flag_stays_flat() -> None:
    e = engine(order_size="0.0005", min_size="0.001")
    assert not [o for out in drive(e, GOLDEN) for o in out.orders]
    assert not e.core.position_open


def test_the_sell_closes_the_position_held_according_to_fills() -> None:
    e = engine()
    drive(e, GOLDEN)
    e.on_fill(fill_of(SID, 1, 1, P, Side.BUY, "0.0007"), T0)  # partly filled
    e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, OrderStatus.CANCELLED, "0.0007"), T0)
    outs = []
    for i, price in enumerate([150, 100, 60, 40, 40]):
        if e.on_ticker(tick(P, price, T0 + (len(GOLDEN) + i) * SECOND)):
            outs.append(e.process(T0))
    sells = [o for out in outs for o in out.orders]
    assert [(o.seq, o.side, o.size, o.purpose) for o in sells] == [(2, Side.SELL, D("0.0007"), Purpose.EXIT)]
    assert any(out.decision and out.decision.action is SignalAction.SELL for out in outs)


def test_an_order_without_outcome_times_out_into_reconciling_and_resolve_leaves_it() -> None:
    e = engine()
    drive(e, GOLDEN)
    assert e.on_timer(T0 + 100 * SECOND).reason == "execution_timeout"
    assert e.state == "reconciling"
    assert not e.process(T0).orders
    e.resolve(T0, (D("0.0012"),), (), "recon")
    assert (e.state, e.core.position_open) == ("in_position", True)


def test_snapshot_round_trip_keeps_book_and_sequence() -> None:
    e = engine()
    drive(e, GOLDEN)
    base = InstanceSnapshot(strategy_id=SID, params=e.params, worker_id="w", saved_ns=0)
    snap = e.snapshot_into(base)
    assert snap.next_seq == 2
    assert snap.ma_book is not None
    assert snap.ma_book.pending[0].seq == 1
    restored = MaEngine(SID, e.params, e.product, timeout_s=5.0, book=snap.ma_book)
    assert restored.seq_of(client_order_id(SID, 1, 1)) == 1


def restarted_while_entering() -> MaEngine:
    """An instance that decided a buy, then restarted from its snapshot before any outcome."""
    first = engine()
    drive(first, GOLDEN)
    base = InstanceSnapshot(strategy_id=SID, params=first.params, worker_id="w", saved_ns=0)
    snap = first.snapshot_into(base)
    core = MaCrossover.restore(first.params, snap.ma) if snap.ma is not None else None
    e = MaEngine(SID, first.params, first.product, timeout_s=5.0, core=core, book=snap.ma_book)
    assert (e.state, e.core.position_open) == ("entering", True)
    return e


def test_a_stale_buy_sent_again_after_a_restart_and_refused_leaves_the_instance_flat() -> None:
    e = restarted_while_entering()
    out = e.on_order_refused(1, T0 + 60 * SECOND, "STALE_INTENT")
    assert out.reason == "order_refused:STALE_INTENT"
    assert (e.state, e.core.position_open, e.positions) == ("flat", False, ((P, D(0)),))


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED])
def test_a_buy_execution_refused_past_deadline_or_after_a_halt_is_done_unfilled(status: OrderStatus) -> None:
    e = restarted_while_entering()
    assert e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, status, "0"), T0).changed
    assert (e.state, e.core.position_open) == ("flat", False)
