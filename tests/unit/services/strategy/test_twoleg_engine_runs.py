"""The built-in pairs and basis through `TwoLegEngine` over long random runs with partial fills,
refusals, unsendable legs, timeouts, resolves and fee-tier changes. Every path of the dual-leg
machine is taken; the venue checks on every event that no sequence repeats and that the positions
are the fills; a run ends in a consistent state. The expected outcomes per seed are those the
dual-leg engine before the SDK runtime gave on the same runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import pytest

from services.strategy.build import build_engine
from services.strategy.config import StrategySettings
from services.strategy.twoleg_engine import TwoLegEngine
from shared.messages import ProductInfo
from shared.messages.strategy import BasisParams, PairsParams, StrategySpec
from tests.unit.services.strategy.helpers import D
from tests.unit.services.strategy.helpers_twoleg import (
    BASIS_INFOS,
    FUTURE,
    PAIRS_INFOS,
    SID,
    SPOT,
    A,
    B,
    Venue,
)

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

Summary = tuple[int, int, str, tuple[Decimal, Decimal]]
"""Orders sent, the last sequence used, the state and both positions at the end."""


def run(spec: StrategySpec, infos: dict[str, ProductInfo], prices: tuple[float, float], seed: int) -> Summary:
    e, _ = build_engine(spec, infos, StrategySettings(taker_fee_rate=D("0.0005")), None)
    assert isinstance(e, TwoLegEngine)
    venue = Venue(e)
    venue.run(prices, seed)
    assert venue.reasons >= EVERY_PATH
    (_, p1), (_, p2) = e.positions
    if e.state == "flat":
        assert p1 == p2 == 0
    if e.state == "in_position":
        assert p1 * p2 < 0  # hedged: one leg long, the other short
    return venue.orders, venue.last_seq, e.state, (p1, p2)


PAIRS_RUNS: list[Summary] = [
    (379, 385, "flat", (D(0), D(0))),
    (278, 282, "in_position", (D("-9.969"), D("8.442"))),
    (324, 334, "exiting", (D("-1.91925"), D(0))),
    (315, 324, "flat", (D(0), D(0))),
    (295, 301, "in_position", (D("5.136"), D("-4.5735"))),
    (326, 334, "flat", (D(0), D(0))),
]


@pytest.mark.parametrize("seed", range(6))
def test_random_pairs_runs(seed: int) -> None:
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
    spec = StrategySpec(id=SID, params=params)
    assert run(spec, PAIRS_INFOS, (100.0, 50.0), seed) == PAIRS_RUNS[seed]


BASIS_RUNS: list[Summary] = [
    (165, 169, "in_position", (D("0.02547344"), D(-2))),
    (223, 232, "exiting", (D(0), D(-10))),
    (130, 135, "flat", (D(0), D(0))),
    (288, 292, "in_position", (D("-0.07222132"), D(7))),
]


@pytest.mark.parametrize("seed", range(4))
def test_random_basis_runs(seed: int) -> None:
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
    assert run(spec, BASIS_INFOS, (50_000.0, 50_300.0), seed) == BASIS_RUNS[seed]
