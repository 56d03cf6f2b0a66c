"""The SDK engine: tickers and candles in, outcomes out. The built-in MA crossover through it: bars
cut on exchange time, rounded orders, the position from fills, execution feedback, restarts and
warm-up (long runs and snapshots of older versions: test_sdk_engine_runs.py)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.strategy.build import build_engine
from services.strategy.config import StrategySettings
from services.strategy.engine import Outcome
from services.strategy.sdk_engine import SdkEngine, tick_of
from shared.messages.base import Side
from shared.messages.market import Candle
from shared.messages.orders import OrderStatus, Purpose, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams, SignalAction, StrategySpec
from shared.sdk import Context
from shared.strategies import CostModel, MaCrossover
from shared.strategies.ma_strategy import MaCrossoverStrategy
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info, tick
from tests.unit.services.strategy.helpers_ma import SID, P, Venue, core_of, full, ma_crossover_engine, walk
from tests.unit.shared.sdk.helpers_runtime import ProbeParams, probe_class

GOLDEN = [100, 100, 100, 100, 90, 80, 70, 120, 150]
"""One bar a second: a golden cross on the last bar (short 2, long 3)."""


def engine(order_size: str = "0.00123456", min_size: str = "0") -> SdkEngine:
    return ma_crossover_engine(order_size=order_size, min_size=min_size, long_window=3)


def drive(e: SdkEngine, prices: list[int]) -> list[Outcome]:
    """One tick a second: the outcomes of the bars they close."""
    outcomes = []
    for i, price in enumerate(prices):
        if e.on_ticker(tick(P, price, T0 + i * SECOND)):
            outcomes.append(e.process(T0 + i * SECOND))
    return outcomes


def test_a_bar_closes_on_the_first_tick_of_a_later_bucket_and_its_last_price_is_the_close() -> None:
    e = engine()
    assert not e.on_ticker(tick(P, 100, T0))
    assert not e.on_ticker(tick(P, 101, T0 + SECOND // 2))  # same bucket: the close moves
    assert e.on_ticker(tick(P, 105, T0 + SECOND))
    e.process(T0 + SECOND)
    assert core_of(e).snapshot().last_start == T0 // SECOND
    assert core_of(e).snapshot().short.xs == [101.0]


def test_golden_cross_buys_order_size_rounded_down_and_fills_make_the_position() -> None:
    e = engine()
    outcomes = drive(e, GOLDEN)
    orders = [o for out in outcomes for o in out.orders]
    assert len(orders) == 1
    buy = orders[0]
    assert (buy.seq, buy.leg, buy.side, buy.size, buy.purpose) == (1, 1, Side.BUY, D("0.0012"), Purpose.ENTRY)
    assert (buy.reason, outcomes[-1].decision and outcomes[-1].decision.action) == (
        "golden_cross",
        SignalAction.BUY,
    )
    assert e.state == "entering"
    assert e.seq_of(client_order_id(SID, 1, 1)) == 1
    assert e.on_fill(fill_of(SID, 1, 1, P, Side.BUY, "0.0012"), T0).reason == "fill"
    e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, OrderStatus.FILLED, "0.0012"), T0)
    assert e.state == "in_position"
    assert e.positions == ((P, D("0.0012")),)
    assert e.on_fill(fill_of(SID, 1, 1, P, Side.BUY, "0.0012"), T0).reason == "duplicate_fill"


def test_a_rejected_entry_puts_the_core_flag_back() -> None:
    e = engine()
    drive(e, GOLDEN)
    assert core_of(e).position_open
    e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, OrderStatus.REJECTED, "0"), T0)
    assert (e.state, core_of(e).position_open) == ("flat", False)


def test_a_refused_entry_stops_waiting_at_once_and_puts_the_core_flag_back() -> None:
    e = engine()
    drive(e, GOLDEN)
    out = e.on_order_refused(1, T0, "KILL_SWITCH")
    assert (out.changed, out.reason) == (True, "order_refused:KILL_SWITCH")
    assert (e.state, core_of(e).position_open) == ("flat", False)
    assert not e.on_order_refused(1, T0, "KILL_SWITCH").changed  # redelivered: nothing to do
    assert not e.on_timer(T0 + 60 * SECOND).changed  # no execution timeout left to wait for


def test_below_the_minimum_size_nothing_is_sent_and_the_flag_stays_flat() -> None:
    e = engine(order_size="0.0005", min_size="0.001")
    assert [o for out in drive(e, GOLDEN) for o in out.orders] == []
    assert not core_of(e).position_open
    e = ma_crossover_engine(order_size="0.0005", min_size="0.001")
    venue = Venue(e)
    assert venue.run(walk(7), lambda seq: full) == []
    assert not core_of(e).position_open


def test_the_sell_closes_the_position_held_according_to_fills() -> None:
    e = engine()
    drive(e, GOLDEN)
    e.on_fill(fill_of(SID, 1, 1, P, Side.BUY, "0.0007"), T0)  # partly filled
    e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, OrderStatus.CANCELLED, "0.0007"), T0)
    outs = []
    for i, price in enumerate([150, 100, 60, 40, 40]):
        now = T0 + (len(GOLDEN) + i) * SECOND
        if e.on_ticker(tick(P, price, now)):
            outs.append(e.process(now))
    sells = [o for out in outs for o in out.orders]
    assert [(o.seq, o.side, o.size, o.purpose) for o in sells] == [(2, Side.SELL, D("0.0007"), Purpose.EXIT)]
    assert any(out.decision and out.decision.action is SignalAction.SELL for out in outs)


def test_an_order_without_outcome_times_out_into_reconciling_and_resolve_leaves_it() -> None:
    e = engine()
    drive(e, GOLDEN)
    assert e.on_timer(T0 + 100 * SECOND).reason == "execution_timeout"
    assert e.state == "reconciling"
    assert not e.process(T0).orders
    out = e.resolve(T0, (D("0.0012"),), (), "recon")
    assert out.reason == "resolved:recon"
    assert out.cancels == (client_order_id(SID, 1, 1),)  # the forgotten order is asked to cancel
    assert (e.state, core_of(e).position_open) == ("in_position", True)


def test_a_snapshot_keeps_the_book_and_the_sequence_and_restores_warm() -> None:
    e = engine()
    drive(e, GOLDEN)
    snap = e.snapshot_into(
        InstanceSnapshot(strategy_id=SID, params=e.runner.strategy.params, worker_id="w", saved_ns=0)
    )
    assert snap.sdk is not None
    assert (snap.next_seq, [o.seq for o in snap.sdk.book.orders]) == (2, [1])
    restored = SdkEngine.create(
        SID,
        MaCrossoverStrategy(core_of(e).params),
        {P: info(P)},
        CostModel(taker_bps=D(0)),
        timeout_s=5.0,
        snapshot=snap.sdk,
    )
    assert restored.restored_warm
    assert restored.seq_of(client_order_id(SID, 1, 1)) == 1
    assert (restored.state, core_of(restored).position_open) == ("entering", True)


def restarted_while_entering() -> SdkEngine:
    """An instance that decided a buy, then restarted (through `build_engine`) from its snapshot
    before any outcome."""
    first = engine()
    drive(first, GOLDEN)
    params = core_of(first).params
    snap = first.snapshot_into(InstanceSnapshot(strategy_id=SID, params=params, worker_id="w", saved_ns=0))
    spec = StrategySpec(id=SID, params=params)
    e, warm = build_engine(spec, {P: info(P)}, StrategySettings(execution_timeout_s=5.0), snap)
    assert isinstance(e, SdkEngine)
    assert warm
    assert (e.state, core_of(e).position_open) == ("entering", True)
    return e


def test_a_stale_buy_sent_again_after_a_restart_and_refused_leaves_the_instance_flat() -> None:
    e = restarted_while_entering()
    out = e.on_order_refused(1, T0 + 60 * SECOND, "STALE_INTENT")
    assert out.reason == "order_refused:STALE_INTENT"
    assert (e.state, core_of(e).position_open, e.positions) == ("flat", False, ((P, D(0)),))


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED])
def test_a_buy_execution_refused_past_deadline_or_after_a_halt_is_done_unfilled(status: OrderStatus) -> None:
    e = restarted_while_entering()
    assert e.on_order_event(event_of(SID, 1, 1, P, Side.BUY, status, "0"), T0).changed
    assert (e.state, core_of(e).position_open) == ("flat", False)


def test_warm_up_folds_candles_of_the_interval_only() -> None:
    e = ma_crossover_engine(interval_s=60)
    prices = walk(11, 80)
    start = T0 // SECOND // 60 * 60 - 60 * 40
    candles = [
        Candle(
            venue="coinbase",
            product_id=P,
            start=start + 60 * i,
            granularity_s=g,
            open=D(p),
            high=D(p),
            low=D(p),
            close=D(p),
            volume=D(1),
        )
        for i, p in enumerate(prices[:40])
        for g in (60, 300)
    ]
    assert e.warm({P: candles}) == 40
    alone = MaCrossover(core_of(e).params)
    for c in candles:
        if c.granularity_s == 60:
            alone.on_candle(c)
    assert core_of(e).snapshot() == alone.snapshot()
    assert e.runner.data.warmup_bars == 6


# ---- the engine around any strategy ----


def probe_engine(**params: Any) -> SdkEngine:
    probe = probe_class()(ProbeParams(**params))
    return SdkEngine.create(SID, probe, {P: info(P)}, CostModel(taker_bps=D(60)), timeout_s=5.0)


def test_every_tick_follows_the_data_asked_for_and_ticks_keep_exchange_time() -> None:
    assert probe_engine(ticks=True).every_tick
    assert probe_engine(ticks=False, bars_s=60).every_tick
    assert not probe_engine(ticks=False).every_tick
    t = tick(P, 100, T0)
    assert tick_of(t).ts_ns == T0
    assert tick_of(msgspec.structs.replace(t, exchange_time_ns=0, receive_time_ns=T0 + 7)).ts_ns == T0 + 7


def test_on_start_runs_on_the_first_call_and_its_orders_come_out_first() -> None:
    e = probe_engine(ticks=True)
    probe = type(e.runner.strategy)

    def act(kind: str, event: Any, ctx: Context) -> None:
        if kind == "start":
            ctx.buy(P, D(1), limit=D(90), tag="bid")
        elif kind == "tick":
            ctx.buy(P, D(1), limit=D(91), tag="bid2")
            ctx.log("quoted", n=2)

    probe.act = staticmethod(act)  # type: ignore[attr-defined]
    assert e.on_ticker(tick(P, 100, T0))
    out = e.process(T0)
    assert [(o.seq, o.reason) for o in out.orders] == [(1, "bid"), (2, "bid2")]
    assert [line.event for line in out.logs] == ["quoted"]
    assert e.seq_of(e.runner.ledger.coid(e.runner.ledger.by_seq(2))) == 2  # type: ignore[arg-type]
    assert e.on_timer(T0).orders == ()  # started once
    out = e.halt(T0, "operator")
    assert isinstance(out, Outcome)
    assert len(out.cancels) == 2
    assert e.state == "halted"
    out = e.resolve(T0, (D(0),), (), "recon")
    assert (out.reason, e.state) == ("resolved:recon", "flat")


def test_fills_and_events_reach_the_runner_with_their_side_and_product() -> None:
    e = probe_engine(ticks=True)
    e.on_timer(T0)
    e.on_fill(fill_of("someone", 9, 1, P, Side.SELL, "0.3"), T0)  # not ours
    assert (e.state, e.positions) == ("reconciling", ((P, D("-0.3")),))


def test_snapshot_into_puts_the_runner_snapshot_in_the_instance_snapshot() -> None:
    e = probe_engine()
    base = InstanceSnapshot(
        strategy_id=SID, params=MaCrossoverParams(product_id=P), worker_id="w", saved_ns=0
    )
    snap = e.snapshot_into(base)
    assert snap.sdk is not None
    assert snap.sdk.book.next_seq == 1
    assert snap.next_seq == 1
