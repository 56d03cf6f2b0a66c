"""The SDK engine: tickers and candles in, outcomes out; and the MA crossover written on the public
API deciding exactly as `MaEngine` does on the same ticks and the same execution feedback."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from services.strategy.engine import Outcome
from services.strategy.ma_engine import MaEngine
from services.strategy.sdk_engine import SdkEngine, from_ma_snapshot, tick_of
from shared.messages.base import Side
from shared.messages.market import Candle
from shared.messages.orders import OrderStatus, Purpose, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams
from shared.sdk import Context
from shared.strategies import CostModel, OrderRequest
from shared.strategies.ma_strategy import MaCrossoverStrategy
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info, tick
from tests.unit.shared.sdk.helpers_runtime import ProbeParams, probe_class

SID, P = "ma-1", "BTC-USD"
Engine = MaEngine | SdkEngine


def engines(
    order_size: str = "0.00123456", min_size: str = "0", interval_s: int = 1
) -> tuple[MaEngine, SdkEngine]:
    """The old engine and the SDK one, on the same params and product."""
    params = MaCrossoverParams(
        product_id=P, short_window=2, long_window=4, interval_s=interval_s, order_size=D(order_size)
    )
    product = info(P, min_size=min_size)
    old = MaEngine(SID, params, product, timeout_s=5.0)
    new = SdkEngine.create(
        SID, MaCrossoverStrategy(params), {P: product}, CostModel(taker_bps=D(60)), timeout_s=5.0
    )
    return old, new


Feedback = Callable[[Engine, OrderRequest, int], None]


def full(e: Engine, o: OrderRequest, now: int) -> None:
    e.on_fill(fill_of(SID, o.seq, 1, P, o.side, str(o.size)), now)
    e.on_order_event(event_of(SID, o.seq, 1, P, o.side, OrderStatus.FILLED, str(o.size)), now)


def partial(e: Engine, o: OrderRequest, now: int) -> None:
    e.on_fill(fill_of(SID, o.seq, 1, P, o.side, "0.0005"), now)
    e.on_order_event(event_of(SID, o.seq, 1, P, o.side, OrderStatus.CANCELLED, "0.0005"), now)


def event_first(e: Engine, o: OrderRequest, now: int) -> None:
    e.on_order_event(event_of(SID, o.seq, 1, P, o.side, OrderStatus.FILLED, str(o.size)), now)
    e.on_fill(fill_of(SID, o.seq, 1, P, o.side, str(o.size)), now)


def rejected(e: Engine, o: OrderRequest, now: int) -> None:
    e.on_order_event(event_of(SID, o.seq, 1, P, o.side, OrderStatus.REJECTED, "0"), now)


def refused(e: Engine, o: OrderRequest, now: int) -> None:
    e.on_order_refused(o.seq, now, "KILL_SWITCH")


def silent(e: Engine, o: OrderRequest, now: int) -> None:
    """No outcome at all: the timer sends the instance to Reconciling."""


POLICIES: list[Feedback] = [full, partial, event_first, rejected, refused, full]


def drive(
    e: Engine, prices: list[int], policy: Callable[[int], Feedback]
) -> list[tuple[int, int, Side, Any, str]]:
    """Ticks (two per second, bars of one second); each order gets the policy's feedback at once.
    What was ordered, at which tick."""
    orders: list[tuple[int, int, Side, Any, str]] = []
    for i, price in enumerate(prices):
        now = T0 + i * SECOND // 2
        if e.on_ticker(tick(P, price, now)):
            out = e.process(now)
            for o in out.orders:
                orders.append((i, o.seq, o.side, o.size, o.purpose.value))
                policy(o.seq)(e, o, now)
        e.on_timer(now)
    return orders


def walk(seed: int, n: int = 600) -> list[int]:
    rng = random.Random(seed)
    price, out = 100, []
    for _ in range(n):
        price = max(50, price + rng.choice((-3, -2, -1, 0, 1, 2, 3)))
        out.append(price)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("mode", ["fill", "mixed"])
def test_the_sdk_ma_crossover_orders_exactly_as_ma_engine(seed: int, mode: str) -> None:
    old, new = engines()

    def policy(seq: int) -> Feedback:
        return full if mode == "fill" else POLICIES[seq % len(POLICIES)]

    prices = walk(seed)
    expected = drive(old, prices, policy)
    got = drive(new, prices, policy)
    assert len(expected) >= 4
    assert got == expected
    assert new.positions == old.positions
    assert new.state == old.state
    strategy = new.runner.strategy
    assert isinstance(strategy, MaCrossoverStrategy)
    assert strategy.core.snapshot() == old.core.snapshot()


def test_an_order_without_outcome_sends_both_to_reconciling_and_resolve_brings_both_back() -> None:
    old, new = engines()
    prices = walk(1)
    states: dict[str, list[str]] = {"old": [], "new": []}
    for name, e in (("old", old), ("new", new)):
        orders = drive(e, prices[:200], lambda seq: silent)
        assert len(orders) == 1
        states[name].append(e.state)
        e.resolve(T0, (orders[0][3],), (), "recon")
        states[name].append(e.state)
    assert states["old"] == states["new"] == ["reconciling", "in_position"]
    assert drive(new, prices[200:], lambda seq: full) == drive(old, prices[200:], lambda seq: full)


def test_a_close_while_an_earlier_exit_is_unanswered_sells_only_the_rest() -> None:
    """The one intended difference: MaEngine sells the whole position again when a death cross
    comes while its previous sell has no outcome yet (sell 16 here); `ctx.close` counts that sell
    as done, so a late fill of it cannot leave the instance short."""
    old, new = engines()
    prices = walk(1)[:179]
    expected = drive(old, prices, lambda seq: silent if seq == 16 else full)
    got = drive(new, prices, lambda seq: silent if seq == 16 else full)
    assert got[:-1] == expected[:-1]
    assert [(seq, side.value, size) for _, seq, side, size, _ in got[-3:]] == [
        (16, "SELL", D("0.0012")),
        (17, "BUY", D("0.0012")),
        (18, "SELL", D("0.0012")),
    ]
    assert expected[-1][3] == D("0.0024")


def test_an_instance_saved_by_the_old_engine_carries_on_in_the_sdk_one() -> None:
    """Saved while its third order had no outcome yet: the SDK engine takes over the position,
    the pending order (its fill is recognised), the sequence and the core."""
    old, _ = engines()
    prices = walk(2)
    at = drive(engines()[0], prices, lambda seq: full)[2][0]
    drive(old, prices[: at + 1], lambda seq: silent if seq == 3 else full)
    base = InstanceSnapshot(strategy_id=SID, params=old.params, worker_id="w", saved_ns=0)
    saved = old.snapshot_into(base)
    assert saved.ma_book is not None
    assert [o.seq for o in saved.ma_book.pending] == [3]
    snap = from_ma_snapshot(old.params, saved.ma_book, saved.ma)
    product = {P: info(P)}
    new = SdkEngine.create(
        SID, MaCrossoverStrategy(old.params), product, CostModel(taker_bps=D(0)), timeout_s=5.0, snapshot=snap
    )
    assert new.restored_warm
    assert (new.positions, new.state, new.seq_of(client_order_id(SID, 3, 1))) == (old.positions, old.state, 3)
    now = T0 + at * SECOND // 2
    pending = saved.ma_book.pending[0]
    request = OrderRequest(
        seq=3, leg=1, side=Side(pending.side), size=pending.size, purpose=Purpose.ENTRY, reference_price=D(1)
    )
    for e in (old, new):
        full(e, request, now)
    assert new.positions == old.positions
    rest = prices[at + 1 :]
    assert drive(new, rest, lambda seq: full) == drive(old, rest, lambda seq: full)


def test_below_the_minimum_both_send_nothing_and_keep_the_flag_flat() -> None:
    old, new = engines(order_size="0.0005", min_size="0.001")
    prices = walk(7)
    assert drive(old, prices, lambda seq: full) == drive(new, prices, lambda seq: full) == []
    strategy = new.runner.strategy
    assert isinstance(strategy, MaCrossoverStrategy)
    assert not strategy.core.position_open
    assert strategy.core.snapshot() == old.core.snapshot()


def test_warm_up_on_candles_of_the_interval_matches_and_then_trades_alike() -> None:
    old, new = engines(interval_s=60)
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
    assert old.warm({P: candles}) == new.warm({P: candles}) == 40
    strategy = new.runner.strategy
    assert isinstance(strategy, MaCrossoverStrategy)
    assert strategy.core.snapshot() == old.core.snapshot()
    assert new.runner.data.warmup_bars == 6


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
