"""The built-in MA crossover on the public API, run by the SDK runner on bars (as a backtest does).
Its orders on seeded runs, as the engine it replaced produced them, are in tests/unit/services/strategy/test_sdk_engine_runs.py."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.messages import ProductInfo
from shared.messages.base import Side
from shared.messages.orders import Liquidity, OrderStatus, Purpose
from shared.messages.strategy import MaCrossoverParams, SignalAction
from shared.sdk import Bar
from shared.sdk.book import SdkSnapshot
from shared.sdk.runtime import Effects, Runner
from shared.strategies import CostModel
from shared.strategies.ma_strategy import MaCrossoverStrategy

D = Decimal
P = "BTC-USD"
START = 1_700_000_040
GOLDEN = [100, 100, 100, 100, 90, 80, 70, 120, 150]
INFO = ProductInfo(venue="coinbase", product_id=P, base_increment=D("0.0001"), price_increment=D("0.01"))


def params(**kw: object) -> MaCrossoverParams:
    fields: dict[str, object] = {"short_window": 2, "long_window": 3, "interval_s": 60, **kw}
    return msgspec.convert({"product_id": P, **fields}, MaCrossoverParams)


def runner(p: MaCrossoverParams | None = None, snap: SdkSnapshot | None = None) -> Runner:
    strategy = MaCrossoverStrategy(p or params())
    return Runner("ma-1", strategy, {P: INFO}, CostModel(taker_bps=D(60)), 5_000_000_000, snap)


def bars(prices: list[int], first: int = 0) -> list[Bar]:
    return [
        Bar(
            product_id=P,
            start=START + 60 * (first + i),
            interval_s=60,
            open=D(c),
            high=D(c),
            low=D(c),
            close=D(c),
            volume=D(1),
        )
        for i, c in enumerate(prices)
    ]


def run(r: Runner, prices: list[int], first: int = 0) -> list[Effects]:
    return [r.on_bar(b) for b in bars(prices, first)]


def test_it_asks_for_bars_of_its_interval_and_candles_to_warm_up_when_the_venue_has_them() -> None:
    data = MaCrossoverStrategy(params()).data()
    assert (data.ticks, data.bars_s, data.warmup_bars) == (False, 60, 5)
    assert MaCrossoverStrategy(params(interval_s=7)).data().warmup_bars == 0


def test_a_golden_cross_buys_order_size_tagged_with_the_reason_and_signals() -> None:
    r = runner(params(order_size="0.00123456"))
    r.start(START * 1_000_000_000)
    outs = run(r, GOLDEN)
    orders = [o for out in outs for o in out.orders]
    assert [(o.side, o.size, o.purpose, o.reason) for o in orders] == [
        (Side.BUY, D("0.0012"), Purpose.ENTRY, "golden_cross")
    ]
    acted = [out.decision for out in outs if out.decision and out.decision.action is not SignalAction.HOLD]
    assert [d.reason for d in acted] == ["golden_cross"]


def test_a_rejected_entry_puts_the_core_flag_back_and_a_fill_keeps_it() -> None:
    r = runner()
    run(r, GOLDEN)
    strategy = r.strategy
    assert isinstance(strategy, MaCrossoverStrategy)
    assert strategy.core.position_open
    order_id = r.ledger.coid(r.book.orders[0])
    r.on_order_update(order_id, OrderStatus.REJECTED, D(0), None, "INSUFFICIENT_FUND")
    assert not strategy.core.position_open
    run(r, [40, 30, 20, 60, 90], first=len(GOLDEN))
    again = [o for o in r.book.orders if o.side is Side.BUY and not o.state.is_terminal]
    assert len(again) == 1
    coid = r.ledger.coid(again[0])
    r.on_fill("t1", coid, D(90), D("0.001"), D(0), Liquidity.TAKER, 0)
    assert strategy.core.position_open
    assert r.state == "in_position"


def test_its_state_survives_a_restart_and_a_param_change_starts_it_again() -> None:
    r = runner()
    run(r, GOLDEN)
    snap = msgspec.msgpack.decode(msgspec.msgpack.encode(r.snapshot()), type=SdkSnapshot)
    back = runner(snap=snap)
    assert back.restored_warm
    old, new = r.strategy, back.strategy
    assert isinstance(old, MaCrossoverStrategy)
    assert isinstance(new, MaCrossoverStrategy)
    assert new.core.snapshot() == old.core.snapshot()
    changed = runner(params(order_size="0.002"), snap)
    assert not changed.restored_warm
    assert changed.book.next_seq == 2
