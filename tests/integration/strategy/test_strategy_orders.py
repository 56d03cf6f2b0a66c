"""One worker, real nats-server: market data in, rounded intents out, fills back in."""

from __future__ import annotations

import time
from typing import Any

import pytest

from services.strategy.effects import decisions_durable
from services.strategy.sdk_engine import SdkEngine
from services.strategy.specs import put_spec
from services.strategy.twoleg_engine import TwoLegEngine
from shared import subjects
from shared.bus import Bus
from shared.messages import CommandAction, FeeRates, StrategyCommand, StrategyCommandReply
from shared.messages.market import Candle, CandleReply, CandleRequest
from shared.messages.orders import (
    OrderIntent,
    OrderType,
    Purpose,
    RiskDecision,
    TimeInForce,
    client_order_id,
)
from shared.messages.strategy import MaCrossoverParams, Signal, StrategySpec, StrategyStatus
from shared.strategies.ma_strategy import MaCrossoverStrategy
from shared.testing import eventually
from tests.integration.strategy.conftest import StartWorker
from tests.integration.strategy.helpers import (
    ORDER_VENUE,
    Collector,
    D,
    Side,
    fill,
    pairs_spec,
    put_product,
    send,
    ticker,
    uid,
)

pytestmark = pytest.mark.integration
SECOND = 1_000_000_000


async def test_ma_crossover_emits_a_rounded_market_ioc_intent(bus, start_worker: StartWorker) -> None:
    sid, product = uid("ma"), uid("MA")
    await put_product(bus, product, base_increment="0.0001")
    intents = await Collector[OrderIntent]().start(bus, subjects.intent(sid), OrderIntent)
    signals = await Collector[Signal]().start(bus, subjects.signal(sid), Signal)
    worker = await start_worker(uid("w"))
    params = MaCrossoverParams(
        product_id=product, short_window=2, long_window=3, interval_s=1, order_size=D("0.00123456")
    )
    await put_spec(bus, StrategySpec(id=sid, params=params))
    await eventually(lambda: worker.states().get(sid) == "flat", timeout_s=5, what="instance running")

    t0 = (time.time_ns() // SECOND + 1) * SECOND
    for i, price in enumerate([100, 100, 100, 100, 90, 80, 70, 120, 150, 180, 180]):
        await send(bus, ticker(product, price, ts_ns=t0 + i * SECOND, seq=i))
    await eventually(lambda: intents.items, timeout_s=5, what="an intent")

    intent = intents.items[0]
    assert intent.side is Side.BUY
    assert intent.size == D("0.0012")  # rounded down to the product's 0.0001 grid before sending
    assert intent.client_order_id == client_order_id(sid, 1, 1)
    assert (intent.order_type, intent.time_in_force, intent.purpose) == (
        OrderType.MARKET,
        TimeInForce.IOC,
        Purpose.ENTRY,
    )
    # The cross is decided on the bar that closed at 120, once the first tick of the next bar (150)
    # has arrived: a market order's reference is the latest price seen when it is decided (a later
    # tick of the burst may already be in under load).
    assert intent.reference_price in (D("150"), D("180"))
    assert intent.venue == ORDER_VENUE  # a paper spec: its orders go to the paper venue
    assert intent.expires_ns == intent.created_ns + 5_000 * 1_000_000  # the default order_ttl_ms
    assert [s.action.value for s in signals.items] == ["buy"]
    await eventually(lambda: worker.states().get(sid) == "entering", what="waiting for the fill")
    await fill(bus, intent)
    await eventually(lambda: worker.states().get(sid) == "in_position", what="long after the fill")


async def _enter_pairs(
    bus, start_worker: StartWorker, **overrides: object
) -> tuple[str, list[OrderIntent], Collector[OrderIntent], Any]:
    sid, a, b = uid("pairs"), uid("PA"), uid("PB")
    await put_product(bus, a, base_increment="0.001")
    await put_product(bus, b, base_increment="0.001")
    intents = await Collector[OrderIntent]().start(bus, subjects.intent(sid), OrderIntent)
    worker = await start_worker(uid("w"))
    await put_spec(bus, pairs_spec(sid, a, b, **overrides))
    await eventually(lambda: worker.states().get(sid) == "flat", timeout_s=5, what="instance running")
    # A flat spread (σ = 0, z = 0) then a jump: z = 2 > 1.5 whatever ticks were coalesced.
    for i, p1 in enumerate(["100", "100", "100", "100", "100", "110"]):
        await send(bus, ticker(b, 100, seq=i))
        await send(bus, ticker(a, p1, seq=i))
        await bus.nc.flush()
        await eventually(lambda i=i: worker.slots[sid].instance.ticks > i, what=f"tick {i} processed")
    await eventually(lambda: len(intents.items) == 2, what="two entry legs")
    return sid, list(intents.items), intents, worker


async def test_pairs_enters_with_two_legs_and_fills_reach_in_position(bus, start_worker: StartWorker) -> None:
    status = Collector[StrategyStatus]()
    sid, legs, _, worker = await _enter_pairs(bus, start_worker)
    await status.start(bus, subjects.strategy_status(sid), StrategyStatus)
    leg1, leg2 = sorted(legs, key=lambda i: i.leg)
    # z above entry: short the spread — sell leg 1, buy leg 2, dollar-neutral at ratio 1.
    assert (leg1.side, leg2.side) == (Side.SELL, Side.BUY)
    assert leg1.size == D("9.090")  # 1000 / 110 rounded down to the 0.001 grid
    assert leg2.size == D("9.999")  # 9.090 × 110 / 100 to the nearest 0.001
    assert [leg1.client_order_id, leg2.client_order_id] == [
        client_order_id(sid, 1, 1),
        client_order_id(sid, 2, 2),
    ]
    assert worker.states()[sid] == "entering"
    await fill(bus, leg1)
    await fill(bus, leg2)
    await eventually(lambda: worker.states()[sid] == "in_position", what="in position")
    await eventually(
        lambda: any(s.state == "in_position" and s.position for s in status.items), what="status"
    )
    last = [s for s in status.items if s.state == "in_position"][-1]
    assert dict(last.position) == {leg1.product_id: D("-9.090"), leg2.product_id: D("9.999")}


async def test_a_partial_fill_is_hedged_at_once(bus, start_worker: StartWorker) -> None:
    sid, legs, intents, worker = await _enter_pairs(bus, start_worker)
    leg1, leg2 = sorted(legs, key=lambda i: i.leg)
    await fill(bus, leg1)
    await fill(bus, leg2, D("4.000"))  # the venue filled 4 of 9.999 and cancelled the rest
    await eventually(lambda: len(intents.items) == 3, what="a hedge intent")
    hedge = intents.items[2]
    assert (hedge.purpose, hedge.leg, hedge.side, hedge.size) == (Purpose.HEDGE, 2, Side.BUY, D("5.999"))
    assert hedge.client_order_id == client_order_id(sid, 3, 2)
    await fill(bus, hedge)
    await eventually(lambda: worker.states()[sid] == "in_position", what="hedged into position")


async def _refuse(bus, intent: OrderIntent, reason: str = "KILL_SWITCH") -> None:
    """Risk's side: a refusal, published as risk publishes its decisions."""
    decision = RiskDecision(
        client_order_id=intent.client_order_id,
        strategy_id=intent.strategy_id,
        approved=False,
        reasons=(reason,),
        decided_ns=time.time_ns(),
    )
    await bus.publish_durable(subjects.decision(intent.strategy_id), decision, msg_id=intent.client_order_id)


async def test_a_refused_second_leg_unwinds_the_filled_first_leg_at_once(
    bus, start_worker: StartWorker
) -> None:
    # Timeouts of a minute: only the refusals can make the instance act within a second.
    sid, legs, intents, worker = await _enter_pairs(bus, start_worker)
    leg1, leg2 = sorted(legs, key=lambda i: i.leg)
    await fill(bus, leg1)
    await _refuse(bus, leg2)  # e.g. the kill switch went on between the legs
    await eventually(lambda: len(intents.items) == 3, timeout_s=1.0, what="a hedge intent for leg 2")
    hedge = intents.items[2]
    assert (hedge.purpose, hedge.leg, hedge.size) == (Purpose.HEDGE, 2, leg2.size)
    await _refuse(bus, hedge, "MAX_POSITION")  # the hedge is refused too: cut leg 1 back
    await eventually(lambda: len(intents.items) == 4, timeout_s=1.0, what="an unwind intent for leg 1")
    unwind = intents.items[3]
    assert (unwind.purpose, unwind.leg, unwind.side, unwind.size, unwind.product_id) == (
        Purpose.UNWIND,
        1,
        Side.BUY,  # leg 1 was sold
        leg1.size,
        leg1.product_id,
    )
    assert worker.states()[sid] == "entering"
    await fill(bus, unwind)
    await eventually(lambda: worker.states()[sid] == "flat", timeout_s=2.0, what="flat after the unwind")
    snap = worker.slots[sid].instance.engine.positions
    assert [pos for _, pos in snap] == [D(0), D(0)]


async def _decisions_acked(bus: Bus, sid: str) -> bool:
    """The instance's handler returned for every decision published so far (it acks after it)."""
    info = await bus.js.consumer_info(subjects.STREAM_DECISIONS, decisions_durable(sid))
    return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0)


async def test_an_approved_decision_changes_nothing(bus, start_worker: StartWorker) -> None:
    sid, legs, intents, worker = await _enter_pairs(bus, start_worker)
    leg1, leg2 = sorted(legs, key=lambda i: i.leg)
    await fill(bus, leg1)
    approved = RiskDecision(
        client_order_id=leg2.client_order_id, strategy_id=sid, approved=True, decided_ns=time.time_ns()
    )
    await bus.publish_durable(subjects.decision(sid), approved, msg_id=leg2.client_order_id)
    await eventually(lambda: _decisions_acked(bus, sid), what="the decision handled")  # else a hedge
    assert len(intents.items) == 2
    assert worker.states()[sid] == "entering"
    await fill(bus, leg2)
    await eventually(lambda: worker.states()[sid] == "in_position", what="in position")


async def test_an_execution_timeout_reconciles_and_a_resolve_command_ends_it(
    bus, start_worker: StartWorker
) -> None:
    sid, _, _, worker = await _enter_pairs(bus, start_worker, execution_timeout_ms=300)
    await eventually(lambda: worker.states()[sid] == "reconciling", what="timed out into Reconciling")
    command = StrategyCommand(action=CommandAction.RESOLVE, positions=(D(0), D(0)), reason="venue_flat")
    reply = await bus.request(subjects.strategy_control(sid), command, StrategyCommandReply)
    assert reply.ok
    assert reply.state == "flat"
    assert reply.detail == "resolved_flat:venue_flat"
    assert worker.states()[sid] == "flat"


async def test_candle_history_warms_the_core_when_market_data_answers(bus, start_worker: StartWorker) -> None:
    sid, product = uid("warm"), uid("WM")
    await put_product(bus, product)

    async def history(request: CandleRequest) -> CandleReply:
        starts = range(request.start, request.end, request.granularity_s)
        candles = tuple(
            Candle(
                venue=request.venue,
                product_id=request.product_id,
                start=s,
                granularity_s=request.granularity_s,
                open=D(100),
                high=D(100),
                low=D(100),
                close=D(100 + i),
                volume=D(1),
            )
            for i, s in enumerate(starts)
        )
        return CandleReply(candles=candles)

    await bus.serve(subjects.candles_rpc("coinbase"), CandleRequest, history)
    worker = await start_worker(uid("w"), warmup_timeout_s=2.0)
    params = MaCrossoverParams(product_id=product, short_window=2, long_window=3, interval_s=60)
    await put_spec(bus, StrategySpec(id=sid, params=params))
    await eventually(lambda: worker.states().get(sid) == "flat", what="running")
    instance = worker.slots[sid].instance
    assert instance is not None
    assert isinstance(instance.engine, SdkEngine)
    strategy = instance.engine.runner.strategy
    assert isinstance(strategy, MaCrossoverStrategy)
    # the long window is already full: no live warm-up needed
    assert len(strategy.core.snapshot().long.xs) == 3


async def test_an_instance_prices_with_the_venues_fee_tier_and_follows_a_change(
    bus, start_worker: StartWorker
) -> None:
    """KV `fee_rates` (written by execution from the venue) beats the settings' fallback tier, at
    start and on the periodic refresh."""
    sid, a, b = uid("fees"), uid("FA"), uid("FB")
    await put_product(bus, a)
    await put_product(bus, b)
    kv = await bus.kv(subjects.KV_FEE_RATES, FeeRates)

    def tier(taker: str) -> FeeRates:
        rate = D(taker)
        return FeeRates(
            venue=ORDER_VENUE,
            pricing_tier="t",
            spot_maker=rate / 2,
            spot_taker=rate,
            futures_maker=rate / 2,
            futures_taker=rate,
            fetched_ns=time.time_ns(),
        )

    await kv.put(ORDER_VENUE, tier("0.008"))
    try:
        worker = await start_worker(uid("w"), fees_refresh_s=0.2, taker_fee_rate=D("0.006"))
        await put_spec(bus, pairs_spec(sid, a, b))
        await eventually(lambda: worker.states().get(sid) == "flat", timeout_s=5, what="instance running")

        def taker_bps() -> object:
            instance = worker.slots[sid].instance
            assert instance is not None
            assert isinstance(instance.engine, TwoLegEngine)
            return instance.engine.machine.acct.costs.taker_bps

        assert taker_bps() == D(80)
        await kv.put(ORDER_VENUE, tier("0.004"))
        await eventually(lambda: taker_bps() == D(40), timeout_s=5, what="the new tier applied")
    finally:
        await kv.delete(ORDER_VENUE)
