"""The built-in basis strategy on the public API: the same decisions as `BasisCore`, priced with the
costs the context gives (a new fee tier moves its thresholds), hedged in base, no warm-up."""

from __future__ import annotations

from decimal import Decimal

from shared.messages.base import Side
from shared.messages.strategy import BasisParams, SignalAction
from shared.sdk import Data
from shared.sdk.twoleg import TwoLegRunner
from shared.strategies import BasisCore, CostModel, Direction
from shared.strategies.basis_strategy import BasisStrategy
from tests.unit.shared.sdk.helpers_twoleg import product
from tests.unit.shared.strategies.helpers import T0, quotes

D = Decimal
SPOT, FUTURE = "BTC-USD", "BIP-20DEC30-CDE"
INFOS = (product(SPOT, "0.00000001"), product(FUTURE, "1", "0.01"))
CHEAP = CostModel(taker_bps=D(5), slippage_bps=D(5))
DEAR = CostModel(taker_bps=D(60), slippage_bps=D(5))


def params(**kw: object) -> BasisParams:
    base: dict[str, object] = {
        "spot_id": SPOT,
        "future_id": FUTURE,
        "notional": D(10_000),
        "entry_bps": D(10),
    }
    base.update(kw)
    return BasisParams(**base)  # type: ignore[arg-type]


def test_legs_hedge_in_base_and_no_warm_up() -> None:
    strategy = BasisStrategy(params())
    assert strategy.legs() == (SPOT, FUTURE)
    assert strategy.hedge == "base"
    assert strategy.data() == Data(ticks=True)


def test_it_decides_exactly_as_the_basis_core_at_the_contexts_costs() -> None:
    p = params(allow_reverse=True, exit_bps=D(-5))
    strategy = BasisStrategy(p)
    runner = TwoLegRunner("b", strategy, INFOS, CHEAP)
    core = BasisCore(p, CHEAP)
    for future in range(49_500, 50_600, 25):
        for held in (None, Direction.LONG, Direction.SHORT):
            spot_px, future_px = D(50_000), D(future)
            assert strategy.signal(spot_px, future_px, held, runner.ctx) == core.update(
                spot_px, future_px, held
            )


def test_a_new_fee_tier_reaches_its_entry_threshold() -> None:
    runner = TwoLegRunner("b", BasisStrategy(params()), INFOS, DEAR)
    # 200 bps of contango: below a 245 bps round trip + 10, above a 25 bps one.
    decision, step = runner.on_tick(T0, *quotes(T0, 100_000, 102_000))
    assert decision.action is SignalAction.HOLD
    assert not step.orders
    runner.set_costs(CHEAP)
    decision, step = runner.on_tick(T0, *quotes(T0, 100_000, 102_000))
    assert decision.action is SignalAction.ENTER_LONG
    assert [(o.side, o.size) for o in step.orders] == [(Side.BUY, D("0.1")), (Side.SELL, D(10))]
