"""The engine of any two-leg strategy, with the built-in pairs and basis (`PairsStrategy`,
`BasisStrategy`, built by `build_engine`): coalesced quotes, client order ids ↔ sequences,
execution feedback into the dual-leg machine, warm-up, restarts, a plug-in's own signal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.strategy.build import build_engine
from services.strategy.config import StrategySettings
from services.strategy.engine import Outcome
from services.strategy.twoleg_engine import TwoLegEngine
from shared.messages import ProductInfo
from shared.messages.base import Side
from shared.messages.market import Candle
from shared.messages.orders import OrderStatus, Purpose, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import BasisParams, PairsParams, SignalAction, StrategySpec
from shared.sdk import Context, Decision, Direction
from shared.sdk.context import LogLine
from shared.strategies import CostModel, OrderRequest
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, tick
from tests.unit.services.strategy.helpers_twoleg import BASIS_INFOS, FUTURE, PAIRS_INFOS, SID, SPOT, A, B
from tests.unit.shared.sdk.helpers_twoleg import INFOS, RatioReversion, ratio_params

SETTINGS = StrategySettings(taker_fee_rate=D("0.0005"))
PAIRS = StrategySpec(
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
ENTRY = [(1, 1, Side.SELL, D("9.090"), Purpose.ENTRY), (2, 2, Side.BUY, D("9.999"), Purpose.ENTRY)]
"""A sold and B bought, about 1000 of notional each: A is 10% rich, the z-score above 1.5."""


def engine(
    spec: StrategySpec = PAIRS,
    infos: dict[str, ProductInfo] = PAIRS_INFOS,
    snap: InstanceSnapshot | None = None,
) -> TwoLegEngine:
    built, warm = build_engine(spec, infos, SETTINGS, snap)
    assert isinstance(built, TwoLegEngine)
    assert warm == (snap is not None)
    return built


def enter(e: TwoLegEngine) -> list[OrderRequest]:
    """Five equal quotes, then A jumps 10%: the entry legs."""
    orders: list[OrderRequest] = []
    for i, p1 in enumerate([100, 100, 100, 100, 100, 110]):
        now = T0 + i * SECOND
        e.on_ticker(tick(B, 100, now))
        assert e.on_ticker(tick(A, p1, now))
        orders.extend(e.process(now).orders)
    assert [(o.seq, o.leg, o.side, o.size, o.purpose) for o in orders] == ENTRY
    return orders


def fill_done(e: TwoLegEngine, o: OrderRequest, size: Decimal | None = None) -> Outcome:
    """Order `o` filled (by `size`, all of it by default), then done."""
    product = e.products[o.leg - 1]
    filled = o.size if size is None else size
    e.on_fill(fill_of(SID, o.seq, o.leg, product, o.side, str(filled), str(o.reference_price)), T0)
    return e.on_order_event(event_of(SID, o.seq, o.leg, product, o.side, OrderStatus.FILLED, str(filled)), T0)


def test_nothing_runs_until_both_legs_have_a_quote_and_a_burst_is_one_update() -> None:
    e = engine()
    assert not e.on_ticker(tick(A, 100, T0))
    assert e.on_ticker(tick(B, 100, T0))
    e.on_ticker(tick(A, 101, T0))
    assert e.process(T0).reason == "window_warming_up"
    assert not e.process(T0).decision  # nothing new since
    assert not e.on_ticker(tick("C-USD", 1, T0))


def test_entry_orders_map_back_from_their_client_order_ids_and_fills_reach_in_position() -> None:
    e = engine()
    legs = enter(e)
    assert e.state == "entering"
    assert e.seq_of(client_order_id(SID, 2, 2)) == 2
    for o in legs:
        fill_done(e, o)
    assert e.state == "in_position"
    assert e.positions == ((A, D("-9.090")), (B, D("9.999")))


def test_a_partial_fill_is_hedged_and_the_exit_closes_both_legs() -> None:
    e = engine()
    first, second = enter(e)
    fill_done(e, first)
    out = fill_done(e, second, second.size / 2)
    assert out.reason == "hedging_partial_fill"
    assert [(o.seq, o.leg, o.side, o.size, o.purpose) for o in out.orders] == [
        (3, 2, Side.BUY, D("4.9995"), Purpose.HEDGE)
    ]
    fill_done(e, out.orders[0])
    assert (e.state, e.positions) == ("in_position", ((A, D("-9.090")), (B, D("9.999"))))
    exits: list[tuple[int, int, Side, Decimal, Purpose]] = []
    for i in range(6, 12):  # the spread is back: the z-score falls inside the exit band
        now = T0 + i * SECOND
        e.on_ticker(tick(A, 100, now))
        e.on_ticker(tick(B, 100, now))
        exits.extend((o.seq, o.leg, o.side, o.size, o.purpose) for o in e.process(now).orders)
    assert exits == [(4, 1, Side.BUY, D("9.090"), Purpose.EXIT), (5, 2, Side.SELL, D("9.999"), Purpose.EXIT)]
    assert e.state == "exiting"


def test_an_unsendable_entry_leg_is_done_unfilled_and_the_other_is_hedged() -> None:
    e = engine()
    first, second = enter(e)
    fill_done(e, first)
    out = e.on_order_unsendable(second.seq, T0, "below_min_size")
    assert out.changed
    assert [(o.seq, o.leg, o.side, o.size, o.purpose) for o in out.orders] == [
        (3, 2, Side.BUY, D("9.999"), Purpose.HEDGE)
    ]


def test_a_refused_second_leg_is_hedged_then_the_first_unwound_at_once_and_the_unwind_fill_is_flat() -> None:
    e = engine()
    first, second = enter(e)
    fill_done(e, first)
    hedge = e.on_order_refused(second.seq, T0, "KILL_SWITCH")
    assert hedge.changed
    assert [(o.purpose, o.leg, o.size) for o in hedge.orders] == [(Purpose.HEDGE, 2, second.size)]
    assert e.on_order_refused(second.seq, T0, "KILL_SWITCH") == Outcome()  # redelivered: no-op
    unwind = e.on_order_refused(hedge.orders[0].seq, T0, "KILL_SWITCH")
    assert [(o.purpose, o.leg, o.side, o.size) for o in unwind.orders] == [
        (Purpose.UNWIND, 1, Side.BUY, first.size)
    ]
    u = unwind.orders[0]
    assert e.seq_of(client_order_id(SID, u.seq, 1)) == u.seq
    fill_done(e, u)
    assert (e.state, e.positions) == ("flat", ((A, D(0)), (B, D(0))))


def test_when_every_unwind_is_refused_the_machine_gives_up_to_reconciling_without_waiting() -> None:
    e = engine()
    first, second = enter(e)
    fill_done(e, first)
    purposes = []
    out = e.on_order_refused(second.seq, T0, "KILL_SWITCH")
    for _ in range(10):
        if not out.orders:
            break
        purposes.append(out.orders[0].purpose)
        out = e.on_order_refused(out.orders[0].seq, T0, "BREAKER_OPEN")
    assert purposes == [Purpose.HEDGE, Purpose.UNWIND, Purpose.UNWIND]
    assert (e.state, e.machine.st.reason) == ("reconciling", "balance_failed")


def test_a_refusal_of_an_order_we_do_not_know_or_that_is_done_changes_nothing() -> None:
    e = engine()
    first, _ = enter(e)
    e.on_order_event(event_of(SID, 1, 1, A, Side.SELL, OrderStatus.REJECTED, "0"), T0)
    assert e.on_order_refused(first.seq, T0, "KILL_SWITCH") == Outcome()
    assert e.on_order_refused(99, T0, "KILL_SWITCH") == Outcome()


def test_a_fill_for_an_order_we_do_not_know_moves_to_reconciling_and_resolve_leaves_it() -> None:
    e = engine()
    enter(e)
    out = e.on_fill(fill_of(SID, 99, 1, A, Side.BUY, "1"), T0)
    assert (out.changed, out.reason, e.state) == (True, "fill_for_unknown_order", "reconciling")
    assert e.positions == ((A, D(0)), (B, D(0)))  # only our own orders' fills count
    assert e.resolve(T0, (D(0),), (), "").reason == "resolve_needs_two_positions"
    assert e.resolve(T0, (D(0), D(0)), (), "venue_flat").reason == "resolved_flat:venue_flat"
    assert e.state == "flat"


def test_a_timeout_goes_to_reconciling_and_a_halt_stays_until_resolved() -> None:
    e = engine()
    enter(e)
    assert e.on_timer(T0 + 60 * SECOND) == Outcome(changed=True, reason="execution_timeout")
    assert e.state == "reconciling"
    assert e.halt(T0 + 61 * SECOND, "operator") == Outcome(changed=True, reason="operator")
    assert e.state == "halted"


def test_a_basis_instance_enters_cash_and_carry_hedged_in_whole_contracts_and_follows_the_fee_tier() -> None:
    spec = StrategySpec(
        id="basis-1",
        params=BasisParams(spot_id=SPOT, future_id=FUTURE, notional=D(10_000), entry_bps=D(10)),
    )
    e = engine(spec, BASIS_INFOS)
    e.set_costs(CostModel(taker_bps=D(60), slippage_bps=D(5)))  # 245 bps round trip: no entry
    e.on_ticker(tick(SPOT, 100_000, T0))
    e.on_ticker(tick(FUTURE, 102_000, T0))  # 200 bps of contango
    assert e.process(T0).orders == ()
    e.set_costs(CostModel(taker_bps=D(5), slippage_bps=D(5)))
    e.on_ticker(tick(FUTURE, 102_000, T0))
    out = e.process(T0)
    # 0.1 BTC spot ↔ 10 nano contracts of 0.01 BTC
    assert [(o.leg, o.side, o.size) for o in out.orders] == [(1, Side.BUY, D("0.1")), (2, Side.SELL, D(10))]
    assert out.decision is not None
    assert (out.decision.action, out.reason, e.state) == (SignalAction.ENTER_LONG, "contango", "entering")
    assert e.warm({SPOT: [], FUTURE: []}) == 0


def test_with_the_settings_fee_tier_a_basis_instance_enters_at_once() -> None:
    spec = StrategySpec(
        id="basis-1",
        params=BasisParams(spot_id=SPOT, future_id=FUTURE, notional=D(10_000), entry_bps=D(10)),
    )
    e = engine(spec, BASIS_INFOS)
    e.on_ticker(tick(SPOT, 100_000, T0))
    e.on_ticker(tick(FUTURE, 102_000, T0))  # 200 bps of contango, far above costs + 10 bps
    out = e.process(T0)
    assert [(o.seq, o.leg, o.side, o.size) for o in out.orders] == [
        (1, 1, Side.BUY, D("0.1")),
        (2, 2, Side.SELL, D(10)),
    ]


def _candles(product: str, closes: list[int]) -> list[Candle]:
    return [
        Candle(
            venue="coinbase",
            product_id=product,
            start=1_700_000_000 + 60 * i,
            granularity_s=60,
            open=D(c),
            high=D(c),
            low=D(c),
            close=D(c),
            volume=D(1),
        )
        for i, c in enumerate(closes)
    ]


def test_pairs_warm_up_folds_the_aligned_closes_and_decides_at_once() -> None:
    cold = engine()
    cold.on_ticker(tick(A, 112, T0))
    cold.on_ticker(tick(B, 100, T0))
    assert cold.process(T0).reason == "window_warming_up"
    e = engine()
    candles = {A: _candles(A, [100, 101, 99, 100, 102, 100]), B: _candles(B, [100] * 5)}
    assert e.warm(candles) == 5  # the sixth close of A has no B to pair with
    e.on_ticker(tick(A, 112, T0))
    e.on_ticker(tick(B, 100, T0))
    out = e.process(T0)
    assert [(o.seq, o.leg, o.side, o.size) for o in out.orders] == [
        (1, 1, Side.SELL, D("8.928")),
        (2, 2, Side.BUY, D("9.999")),
    ]
    assert out.decision is not None
    assert (out.decision.action, out.decision.reason) == (SignalAction.ENTER_SHORT, "z_above_entry")


def restarted_while_entering() -> tuple[TwoLegEngine, list[OrderRequest]]:
    """An instance that decided an entry, then restarted (through `build_engine`) from its
    snapshot before any outcome: the machine and the strategy's state come back."""
    first = engine()
    legs = enter(first)
    base = InstanceSnapshot(strategy_id=SID, params=PAIRS.params, worker_id="w", saved_ns=T0)
    e = engine(snap=first.snapshot_into(base))
    assert e.restored_warm
    assert e.state == "entering"
    assert [e.seq_of(client_order_id(SID, o.seq, o.leg)) for o in legs] == [1, 2]
    return e, legs


def test_stale_legs_sent_again_after_a_restart_and_refused_leave_the_machine_flat() -> None:
    e, legs = restarted_while_entering()
    outs = [e.on_order_refused(o.seq, T0 + 60 * SECOND, "STALE_INTENT") for o in legs]
    assert all(out.changed for out in outs)
    assert [o for out in outs for o in out.orders] == []  # nothing filled: nothing to hedge or unwind
    assert (e.state, e.positions) == ("flat", ((A, D(0)), (B, D(0))))


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


def test_a_plug_in_strategys_own_signal_is_published_when_the_machine_holds() -> None:
    class Chatty(RatioReversion):
        def signal(self, p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
            ctx.signal(SignalAction.BUY, value=1.5, reason="chatty")
            ctx.log("chatting", p1=p1)
            return super().signal(p1, p2, held, ctx)

    e = TwoLegEngine("r", Chatty(ratio_params()), INFOS, CostModel(taker_bps=D(0)))
    e.on_ticker(tick("A-USD", 100, T0))
    e.on_ticker(tick("B-USD", 100, T0))
    out = e.process(T0)
    assert out.decision == Decision(action=SignalAction.BUY, value=1.5, reason="chatty")
    assert out.logs == (LogLine(event="chatting", fields={"p1": D(100)}, ts_ns=T0),)
    assert out.acted
    assert out.orders == ()
