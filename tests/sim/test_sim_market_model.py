"""The simulator's market model has what the demo portfolio is tuned to find: a perp carry wider
than a basis round trip at times and narrow at others, cointegrated pairs whose spread reverts by
more than a pairs round trip, and prices that stay realistic. The demo's own parameters are read
from the portfolio `make run` seeds, and its dual-leg instances, run through the live strategy
code on the model's prices, make money after the paper venue's fees."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import cache

import numpy as np
import pytest

from services.exchange_sim.market_model import MarketModel
from services.launcher import DEFAULT_PORTFOLIO
from shared.backtest.dual import run_dual
from shared.backtest.dual_types import DualBars, DualConfig
from shared.backtest.types import Bars
from shared.messages.strategy import BasisParams, PairsParams, StrategySpec
from shared.sdk.specs import expand_portfolio
from shared.strategies import CostModel, LegSpec
from shared.venue import DEFAULT_FEES, Product, default_products

NOW = 1_764_000_000 * 1_000_000_000
STEPS_PER_HOUR = 14_400  # the feed's default 0.25 s tick
PERP = "BIP-20DEC30-CDE"


@cache
def _path(seed: int, hours: int) -> dict[str, np.ndarray]:
    model = MarketModel(default_products(NOW), seed=seed)
    rows = [dict(model.step()) for _ in range(hours * STEPS_PER_HOUR)]
    return {pid: np.array([r[pid] for r in rows]) for pid in rows[0]}


def _demo() -> dict[str, StrategySpec]:
    entries = expand_portfolio(DEFAULT_PORTFOLIO.read_bytes(), base_dir=DEFAULT_PORTFOLIO.parent)
    return {e.spec.id: e.spec for e in entries}


def _products() -> dict[str, Product]:
    return {p.product_id: p for p in default_products(NOW)}


def _costs(spec: StrategySpec) -> CostModel:
    """What the instance prices a round trip at on the paper venue's default tier."""
    params = spec.params
    assert isinstance(params, BasisParams | PairsParams)
    products = _products()
    return CostModel.of(DEFAULT_FEES, [products[p] for p in spec.products], slippage_bps=params.slippage_bps)


def _episodes(series: np.ndarray, above: float, below: float) -> int:
    """How many times `series` went from at least `above` to at most `below` (a full swing)."""
    count, armed = 0, False
    for value in series:
        if value >= above:
            armed = True
        elif value <= below and armed:
            count, armed = count + 1, False
    return count


def test_same_seed_same_prices_whatever_the_book_draws() -> None:
    products = default_products(NOW)
    a, b = MarketModel(products, seed=7), MarketModel(products, seed=7)
    for _ in range(50):
        a.step()
        b.step()
        for pid in b.products:  # what the feed does between steps; prices must not depend on it
            b.levels(pid)
            b.coin()
    assert a.mids == b.mids
    assert MarketModel(products, seed=8).step() != a.step()


def test_starts_at_todays_prices_and_stays_near_them() -> None:
    first = MarketModel(default_products(NOW), seed=3).mids
    assert first["BTC-USD"] == pytest.approx(95_000)
    assert first["SOL-USD"] == pytest.approx(150)
    path = _path(1, 4)
    for pid, start in (("BTC-USD", 95_000), ("ETH-USD", 3_500), ("SOL-USD", 150)):
        assert 0.6 * start < path[pid].min(), pid
        assert path[pid].max() < 1.6 * start, pid


def test_perp_carry_pays_a_basis_round_trip_several_times_an_hour() -> None:
    spec = _demo()["basis-btc-perp"]
    params = spec.params
    assert isinstance(params, BasisParams)
    round_trip = float(_costs(spec).round_trip_bps)
    assert params.entry_bps > 0  # net basis already has the round trip taken off
    # Entering at net > entry_bps and exiting at net < exit_bps earns the difference of the gross
    # basis minus the round trip: the gap must be wider than the round trip.
    assert float(params.entry_bps - params.exit_bps) > round_trip
    premium_bps = (_path(1, 4)[PERP] / _path(1, 4)["BTC-USD"] - 1) * 1e4
    assert 100 < premium_bps.mean() < 200  # a positive carry
    enter_at = round_trip + float(params.entry_bps)
    exit_at = round_trip + float(params.exit_bps)
    assert _episodes(premium_bps, enter_at, exit_at) / 4 >= 3


@pytest.mark.parametrize(("follower", "leader"), [("SOL-USD", "ETH-USD"), ("ETH-USD", "BTC-USD")])
def test_pair_spreads_revert_by_more_than_a_pairs_round_trip(follower: str, leader: str) -> None:
    path = _path(1, 4)
    spread = np.log(path[follower]) - np.log(path[leader])
    x, y = spread[:-1] - spread.mean(), spread[1:] - spread.mean()
    phi = float(x @ y / (x @ x))
    half_life_steps = math.log(0.5) / math.log(phi)
    assert 60 < half_life_steps < 240  # about 30 s: mean reverting, not a walk
    demo = next(
        s
        for s in _demo().values()
        if isinstance(s.params, PairsParams) and set(s.products) == {follower, leader}
    )
    params = demo.params
    assert isinstance(params, PairsParams)
    move_bps = (params.entry_z - params.exit_z) * float(spread.std()) * 1e4
    assert move_bps > float(_costs(demo).round_trip_bps) + 100
    assert params.window >= 4 * half_life_steps  # the z-score's window sees several reversions


def test_follower_can_be_pinned() -> None:
    model = MarketModel(default_products(NOW), seed=1)
    model.set_mid("SOL-USD", 171.5)
    assert model.mids["SOL-USD"] == pytest.approx(171.5)
    ratio = model.mids["SOL-USD"] / model.mids["ETH-USD"]
    model.set_mid("BTC-USD", 90_000.0)  # the followers move with it, their spreads unchanged
    assert model.mids["BTC-USD"] == pytest.approx(90_000.0)
    assert model.mids["ETH-USD"] == pytest.approx(3_500 * 90_000 / 95_000)
    assert model.mids["SOL-USD"] / model.mids["ETH-USD"] == pytest.approx(ratio)


@pytest.mark.parametrize("instance", ["basis-btc-perp", "pairs-eth-sol", "pairs-btc-eth"])
def test_demo_dual_leg_instances_earn_more_than_their_fees(instance: str) -> None:
    """Two hours of the model through the live strategy code, filled at the mids with the paper
    tier's fees: the edge is real (gross above the fees), not fees paid for noise."""
    spec = _demo()[instance]
    params = spec.params
    assert isinstance(params, BasisParams | PairsParams)
    path, products = _path(2, 2), _products()
    times = NOW + np.arange(len(path["BTC-USD"]), dtype=np.int64) * 250_000_000

    def leg(pid: str) -> tuple[LegSpec, Bars]:
        p, px = products[pid], path[pid]
        size = p.future.contract_size if p.future is not None else Decimal(1)
        return LegSpec(product_id=pid, base_increment=p.base_increment, contract_size=size), Bars(
            times, px, px, px, px
        )

    (leg1, bars1), (leg2, bars2) = leg(spec.products[0]), leg(spec.products[1])
    cfg = DualConfig(params, (leg1, leg2), fill="close", fee_bps=_costs(spec).taker_bps)
    trades = run_dual(DualBars(bars1, bars2), cfg).pair_trades
    fees = sum((t.fees for t in trades), Decimal(0))
    net = sum((t.pnl for t in trades), Decimal(0))
    assert len(trades) >= 4
    assert net > 0
    assert fees < net + fees  # fee share of the gross below 100 %
