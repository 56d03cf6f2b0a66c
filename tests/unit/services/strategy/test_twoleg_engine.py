"""The engine of any two-leg strategy. The built-in pairs and basis, as `PairsStrategy` /
`BasisStrategy` through `TwoLegEngine`, give exactly the outcomes of the `DualEngine` on the same
events — the dual-engine cases side by side, then long random runs with partial fills, refusals,
unsendable legs, timeouts, resolves and fee-tier changes."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any, Literal

import pytest

from services.strategy.build import build_engine, costs_for
from services.strategy.config import StrategySettings
from services.strategy.dual_engine import DualEngine
from services.strategy.engine import Outcome
from services.strategy.twoleg_engine import TwoLegEngine
from shared.messages import ProductInfo
from shared.messages.base import Side
from shared.messages.market import Candle
from shared.messages.orders import OrderStatus, client_order_id
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import BasisParams, PairsParams, SignalAction, StrategySpec
from shared.sdk import Context, Decision, Direction, TwoLegStrategy
from shared.sdk.context import LogLine
from shared.strategies import CostModel, OrderRequest
from shared.strategies.basis_strategy import BasisStrategy
from shared.strategies.pairs_strategy import PairsStrategy
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info, tick
from tests.unit.shared.sdk.helpers_twoleg import INFOS, RatioReversion, ratio_params

SID, A, B = "pairs-1", "A-USD", "B-USD"
SPOT, FUTURE = "BTC-USD", "BIT-28NOV25-CDE"
SETTINGS = StrategySettings(taker_fee_rate=D("0.0005"))
PAIRS_PARAMS = PairsParams(
    leg1_id=A,
    leg2_id=B,
    window=5,
    entry_z=1.5,
    exit_z=0.2,
    hedge_ratio="fixed",
    notional=D(1000),
    entry_cooldown_ms=0,
    exit_cooldown_ms=0,
)
PAIRS = StrategySpec(id=SID, params=PAIRS_PARAMS)
PAIRS_INFOS = {A: info(A, "0.001"), B: info(B, "0.001")}
BASIS_INFOS = {
    SPOT: info(SPOT, "0.00000001"),
    FUTURE: ProductInfo(
        venue="coinbase",
        product_id=FUTURE,
        base_increment=D(1),
        price_increment=D(5),
        contract_size=D("0.01"),
    ),
}


def _strategy(spec: StrategySpec) -> TwoLegStrategy[Any]:
    p = spec.params
    return PairsStrategy(p) if isinstance(p, PairsParams) else BasisStrategy(p)  # type: ignore[arg-type]


class Twin:
    """A `DualEngine` and a `TwoLegEngine` of the same spec, fed the same events: every outcome,
    state and position must be equal. `reasons` collects the outcomes' reason codes."""

    def __init__(self, spec: StrategySpec, infos: dict[str, ProductInfo]) -> None:
        built, _ = build_engine(spec, infos, SETTINGS, None)
        assert isinstance(built, DualEngine)
        self.old = built
        pair = (infos[spec.products[0]], infos[spec.products[1]])
        self.new = TwoLegEngine(spec.id, _strategy(spec), pair, costs_for(spec, SETTINGS, infos, None))
        self.reasons: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        def both(*args: Any) -> Any:
            old, new = getattr(self.old, name)(*args), getattr(self.new, name)(*args)
            assert old == new, name
            assert (self.old.state, self.old.positions) == (self.new.state, self.new.positions)
            if isinstance(new, Outcome):
                self.reasons.add(new.reason.split(":")[0])
            return new

        return both


def enter(t: Twin) -> list[OrderRequest]:
    orders: list[OrderRequest] = []
    for i, p1 in enumerate([100, 100, 100, 100, 100, 110]):
        now = T0 + i * SECOND
        t.on_ticker(tick(B, 100, now))
        assert t.on_ticker(tick(A, p1, now))
        orders.extend(t.process(now).orders)
    return orders


def fill_done(t: Twin, o: OrderRequest, product: str, size: Decimal | None = None) -> Outcome:
    filled = o.size if size is None else size
    t.on_fill(fill_of(SID, o.seq, o.leg, product, o.side, str(filled), str(o.reference_price)), T0)
    out: Outcome = t.on_order_event(
        event_of(SID, o.seq, o.leg, product, o.side, OrderStatus.FILLED, str(filled)), T0
    )
    return out


def test_nothing_runs_until_both_legs_have_a_quote_and_a_burst_is_one_update() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    assert not t.on_ticker(tick(A, 100, T0))
    assert t.on_ticker(tick(B, 100, T0))
    t.on_ticker(tick(A, 101, T0))
    t.process(T0)
    assert not t.process(T0).decision
    assert not t.on_ticker(tick("C-USD", 1, T0))


def test_entry_orders_map_back_from_their_client_order_ids_and_fills_reach_in_position() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    legs = enter(t)
    assert [(o.seq, o.leg, o.side) for o in legs] == [(1, 1, Side.SELL), (2, 2, Side.BUY)]
    assert t.seq_of(client_order_id(SID, 2, 2)) == 2
    for o, product in zip(legs, (A, B), strict=True):
        fill_done(t, o, product)
    assert t.new.state == "in_position"


def test_a_partial_fill_is_hedged_and_the_exit_closes_both_legs() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    first, second = enter(t)
    fill_done(t, first, A)
    out = fill_done(t, second, B, second.size / 2)
    (hedge,) = out.orders
    assert (hedge.purpose.value, hedge.leg) == ("hedge", 2)
    fill_done(t, hedge, B)
    assert t.new.state == "in_position"
    exits: list[str] = []
    for i in range(6, 12):  # the spread is back: the z-score falls inside the exit band
        now = T0 + i * SECOND
        t.on_ticker(tick(A, 100, now))
        t.on_ticker(tick(B, 100, now))
        exits.extend(o.purpose.value for o in t.process(now).orders)
    assert exits == ["exit", "exit"]


def test_an_unsendable_entry_leg_is_done_unfilled_and_the_other_is_hedged() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    first, second = enter(t)
    fill_done(t, first, A)
    out = t.on_order_unsendable(second.seq, T0, "below_min_size")
    assert out.changed
    assert [o.purpose.value for o in out.orders] == ["hedge"]


def test_refusals_hedge_then_unwind_and_a_redelivered_refusal_is_a_no_op() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    first, second = enter(t)
    fill_done(t, first, A)
    hedge = t.on_order_refused(second.seq, T0, "KILL_SWITCH")
    assert [(o.purpose.value, o.leg) for o in hedge.orders] == [("hedge", 2)]
    assert t.on_order_refused(second.seq, T0, "KILL_SWITCH").orders == ()
    unwind = t.on_order_refused(hedge.orders[0].seq, T0, "KILL_SWITCH")
    assert [(o.purpose.value, o.leg, o.side) for o in unwind.orders] == [("unwind", 1, Side.BUY)]
    fill_done(t, unwind.orders[0], A)
    assert t.new.state == "flat"


def test_when_every_unwind_is_refused_the_machine_gives_up_to_reconciling() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    first, second = enter(t)
    fill_done(t, first, A)
    out = t.on_order_refused(second.seq, T0, "KILL_SWITCH")
    while out.orders:
        out = t.on_order_refused(out.orders[0].seq, T0, "BREAKER_OPEN")
    assert t.new.state == "reconciling"
    assert t.on_order_refused(99, T0, "KILL_SWITCH") == Outcome()


def test_an_unknown_fill_moves_to_reconciling_and_resolve_leaves_it() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    enter(t)
    t.on_fill(fill_of(SID, 99, 1, A, Side.BUY, "1"), T0)
    assert t.new.state == "reconciling"
    assert t.resolve(T0, (D(0),), (), "").reason == "resolve_needs_two_positions"
    assert t.resolve(T0, (D(0), D(0)), (), "venue_flat").reason.startswith("resolved_flat")
    assert t.new.state == "flat"


def test_a_timeout_and_a_halt_go_the_same_way() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    enter(t)
    assert t.on_timer(T0 + 60 * SECOND).reason == "execution_timeout"
    t.halt(T0 + 61 * SECOND, "operator")
    assert t.new.state == "halted"


def test_a_basis_instance_enters_cash_and_carry_hedged_in_whole_contracts_and_follows_the_fee_tier() -> None:
    spec = StrategySpec(
        id=SID,
        params=BasisParams(spot_id=SPOT, future_id=FUTURE, notional=D(10_000), entry_bps=D(10)),
    )
    t = Twin(spec, BASIS_INFOS)
    t.set_costs(CostModel(taker_bps=D(60), slippage_bps=D(5)))  # 245 bps round trip: no entry
    t.on_ticker(tick(SPOT, 100_000, T0))
    t.on_ticker(tick(FUTURE, 102_000, T0))
    assert t.process(T0).orders == ()
    t.set_costs(CostModel(taker_bps=D(5), slippage_bps=D(5)))
    t.on_ticker(tick(FUTURE, 102_000, T0))
    out = t.process(T0)
    assert [(o.leg, o.side, o.size) for o in out.orders] == [(1, Side.BUY, D("0.1")), (2, Side.SELL, D(10))]
    assert t.warm({SPOT: [], FUTURE: []}) == 0


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


def test_pairs_warm_up_folds_the_same_aligned_closes() -> None:
    t = Twin(PAIRS, PAIRS_INFOS)
    candles = {A: _candles(A, [100, 101, 99, 100, 102, 100]), B: _candles(B, [100] * 5)}
    assert t.warm(candles) == 5
    now = T0
    t.on_ticker(tick(A, 112, now))
    t.on_ticker(tick(B, 100, now))
    assert t.process(now).orders  # the warmed window decides at once


def test_a_restart_while_entering_restores_both_the_same_way() -> None:
    first = Twin(PAIRS, PAIRS_INFOS)
    legs = enter(first)
    base = InstanceSnapshot(strategy_id=SID, params=PAIRS.params, worker_id="w", saved_ns=T0)
    old, _ = build_engine(PAIRS, PAIRS_INFOS, SETTINGS, first.old.snapshot_into(base))
    new = TwoLegEngine(
        SID,
        PairsStrategy(PAIRS_PARAMS),
        (PAIRS_INFOS[A], PAIRS_INFOS[B]),
        CostModel(taker_bps=D(5)),
        first.new.snapshot(),
    )
    assert new.restored_warm
    assert (old.state, new.state) == ("entering", "entering")
    for o in legs:
        a = old.on_order_refused(o.seq, T0 + 60 * SECOND, "STALE_INTENT")
        b = new.on_order_refused(o.seq, T0 + 60 * SECOND, "STALE_INTENT")
        assert a == b
    assert (old.state, new.state) == ("flat", "flat")


def _random_run(t: Twin, products: tuple[str, str], prices: tuple[float, float], seed: int) -> set[str]:
    """Random ticks and a random venue answering each order (fill, part, refuse, unsendable,
    nothing, at once or later); returns the reason codes seen."""
    rng = random.Random(seed)
    working: list[OrderRequest] = []
    p = list(prices)
    for i in range(600):
        now = T0 + i * SECOND
        for leg in (0, 1):
            p[leg] *= 1 + rng.gauss(0, 0.004) - (0.02 * (p[leg] / prices[leg] - 1))
            if rng.random() < 0.8:
                t.on_ticker(tick(products[leg], round(p[leg], 2), now - rng.randrange(0, 3) * SECOND))
        out = t.process(now)
        working.extend(out.orders)
        out = t.on_timer(now)
        working.extend(out.orders)
        rng.shuffle(working)
        while working and rng.random() < 0.9:
            o = working.pop()
            product = products[o.leg - 1]
            roll = rng.random()
            if roll < 0.1:
                out = t.on_order_refused(o.seq, now, "KILL_SWITCH")
            elif roll < 0.15:
                out = t.on_order_unsendable(o.seq, now, "below_min_size")
            else:
                part = o.size if roll < 0.75 else (o.size * D(rng.randrange(0, 4)) / 4)
                if part > 0:
                    t.on_fill(
                        fill_of(SID, o.seq, o.leg, product, o.side, str(part), str(round(p[o.leg - 1], 2))),
                        now,
                    )
                event = event_of(SID, o.seq, o.leg, product, o.side, OrderStatus.FILLED, str(part))
                out = t.on_order_event(event, now)
            working.extend(out.orders)
        if t.new.state in ("reconciling", "halted") and rng.random() < 0.3:
            # Reconciliation reports the positions as they are, or (an operator closed them) flat.
            held = tuple(pos for _, pos in t.new.positions)
            t.resolve(now, held if rng.random() < 0.5 else (D(0), D(0)), (), "random")
        if rng.random() < 0.01:
            t.set_costs(CostModel(taker_bps=D(rng.choice([0, 5, 10, 60])), slippage_bps=D(5)))
    return t.reasons


EVERY_PATH = {
    "entry_filled",
    "entry_partially_filled",
    "hedging_partial_fill",
    "unwinding_excess",
    "balance_failed",
    "unhedged_timeout",
    "stop_loss",
    "exit_filled",
    "exit_retry",
    "resolved_flat",
}


@pytest.mark.parametrize("seed", range(6))
def test_random_pairs_runs_give_the_dual_engines_outcomes(seed: int) -> None:
    hedge: Literal["fixed", "ols", "kalman"] = ("fixed", "ols", "kalman")[seed % 3]
    params = PairsParams(
        leg1_id=A,
        leg2_id=B,
        window=10,
        entry_z=1.2,
        exit_z=0.3,
        hedge_ratio=hedge,
        kalman_warmup=10,
        notional=D(1000),
        entry_cooldown_ms=2000,
        exit_cooldown_ms=1000,
        min_profit_bps=D(-50),
        stop_loss_bps=D(-30),
        max_unhedged_ms=3000,
        execution_timeout_ms=5000,
    )
    reasons = _random_run(Twin(StrategySpec(id=SID, params=params), PAIRS_INFOS), (A, B), (100.0, 50.0), seed)
    assert reasons >= EVERY_PATH


@pytest.mark.parametrize("seed", range(4))
def test_random_basis_runs_give_the_dual_engines_outcomes(seed: int) -> None:
    params = BasisParams(
        spot_id=SPOT,
        future_id=FUTURE,
        notional=D(5000),
        entry_bps=D(2),
        exit_bps=D(-20),
        allow_reverse=seed % 2 == 1,
        entry_cooldown_ms=0,
        exit_cooldown_ms=0,
        min_profit_bps=D(-100),
        slippage_bps=D(0),
    )
    spec = StrategySpec(id=SID, params=params)
    reasons = _random_run(Twin(spec, BASIS_INFOS), (SPOT, FUTURE), (50_000.0, 50_300.0), seed)
    assert reasons >= EVERY_PATH


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
