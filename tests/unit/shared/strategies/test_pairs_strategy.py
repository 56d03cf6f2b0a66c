"""The built-in pairs strategy on the public API: the same decisions as `PairsCore`, the warm-up the
service gives pairs, and state that survives a snapshot."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from shared.sdk import Data
from shared.sdk.state import dump_state, load_state
from shared.sdk.twoleg import TwoLegRunner
from shared.strategies import ZERO_COSTS, Direction, PairsCore
from shared.strategies.pairs_strategy import PairsStrategy
from tests.unit.shared.sdk.helpers_twoleg import product
from tests.unit.shared.strategies.helpers import pairs_params

D = Decimal
INFOS = (product("A-USD"), product("B-USD"))


def _prices(seed: int, n: int = 300) -> list[tuple[Decimal, Decimal, Direction | None]]:
    rng = random.Random(seed)
    out: list[tuple[Decimal, Decimal, Direction | None]] = []
    a, b = 100.0, 50.0
    for _ in range(n):
        a *= 1 + rng.gauss(0, 0.01)
        b *= 1 + rng.gauss(0, 0.01)
        held = rng.choice([None, Direction.LONG, Direction.SHORT])
        out.append((D(f"{a:.2f}"), D(f"{b:.2f}"), held))
    return out


@pytest.mark.parametrize("hedge", ["fixed", "ols", "kalman"])
def test_it_decides_exactly_as_the_pairs_core(hedge: str) -> None:
    params = pairs_params(window=10, hedge_ratio=hedge, kalman_warmup=10)
    strategy = PairsStrategy(params)
    ctx = TwoLegRunner("p", strategy, INFOS, ZERO_COSTS).ctx
    core = PairsCore(params)
    for p1, p2, held in _prices(3):
        assert strategy.signal(p1, p2, held, ctx) == core.update(p1, p2, held)


def test_legs_hedge_and_the_warm_up_the_service_gives_pairs() -> None:
    strategy = PairsStrategy(pairs_params(window=30, hedge_window=50))
    assert strategy.legs() == strategy.products() == ("A-USD", "B-USD")
    assert strategy.hedge == "notional"
    assert strategy.data() == Data(ticks=True, warmup_bars=50 + 30 + 2, warmup_interval_s=60)
    assert PairsStrategy(pairs_params(window=30)).data().warmup_bars == 30 + 30 + 2


def test_its_windows_survive_a_snapshot() -> None:
    params = pairs_params(window=10, hedge_ratio="ols")
    ctx = TwoLegRunner("p", PairsStrategy(params), INFOS, ZERO_COSTS).ctx
    first = PairsStrategy(params)
    prices = _prices(5, 60)
    for p1, p2, held in prices[:40]:
        first.signal(p1, p2, held, ctx)
    again = PairsStrategy(params)
    load_state(again, dump_state(first))
    for p1, p2, held in prices[40:]:
        assert again.signal(p1, p2, held, ctx) == first.signal(p1, p2, held, ctx)
