"""Any `TwoLegStrategy` backtested on the live dual-leg machine (the built-in pairs and basis are
checked against hand numbers in test_bt_dual.py)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from shared.backtest.dual import builtin_strategy, run_dual, run_two_leg_strategy
from shared.backtest.dual_types import DualConfig
from shared.backtest.errors import BacktestError
from shared.backtest.report import result_summary
from tests.unit.shared.backtest.helpers import MIN, T0
from tests.unit.shared.backtest.helpers_dual import LEG_A, LEG_B, PAIRS_A, PAIRS_B, cfg, dual_bars
from tests.unit.shared.sdk.helpers_twoleg import RatioReversion, ratio_params

BARS = dual_bars([100, 100, 100, 100, 90, 100, 100, 100], [100] * 8)


def test_a_ratio_strategy_round_trip_with_its_logs_and_name() -> None:
    strategy = RatioReversion(ratio_params())
    config = DualConfig(strategy.params, (LEG_A, LEG_B), fill="close", name="ratio.py:RatioReversion")
    res = run_two_leg_strategy(strategy, BARS, config)
    (t,) = res.pair_trades
    # Bar 4: the ratio is 10% under its mean → long A / short B at the closes; bar 5: back → exit.
    assert (t.entry_time, t.exit_time, t.direction, t.exit_reason) == (
        T0 + 4 * MIN,
        T0 + 5 * MIN,
        1,
        "signal",
    )
    assert [(leg.side, leg.size) for leg in t.legs] == [("buy", D("11.1111")), ("sell", D("10.0000"))]
    assert t.pnl == D("11.1111") * 10
    assert res.extra["strategy"] == "ratio.py:RatioReversion"
    assert res.extra["machine_state_at_end"] == "flat"
    (log,) = res.extra["logs"]
    assert (log["time"], log["event"], log["position"]) == (T0 + 4 * MIN, "ratio_low", "0")
    doc = result_summary(res)
    assert doc["config"]["strategy"] == "ratio.py:RatioReversion"
    assert doc["config"]["params"]["band"] == 0.05
    assert config.describe() == "ratio.py:RatioReversion A-USD/B-USD, fill close"


def test_the_built_ins_run_as_two_leg_strategies() -> None:
    config = cfg("pairs", (LEG_A, LEG_B), fill="close")
    direct = run_two_leg_strategy(builtin_strategy(config), dual_bars(PAIRS_A, PAIRS_B), config)
    via = run_dual(dual_bars(PAIRS_A, PAIRS_B), config)
    assert direct.pair_trades == via.pair_trades
    assert direct.extra == via.extra
    assert "logs" not in via.extra


def test_a_config_that_does_not_match_the_strategy_is_refused() -> None:
    strategy = RatioReversion(ratio_params())
    with pytest.raises(BacktestError, match="params are not the strategy's"):
        run_two_leg_strategy(strategy, BARS, DualConfig(ratio_params(band=0.1), (LEG_A, LEG_B)))
    with pytest.raises(BacktestError, match="the strategy trades"):
        run_two_leg_strategy(strategy, BARS, DualConfig(strategy.params, (LEG_B, LEG_A)))
    with pytest.raises(BacktestError, match="not a built-in"):
        builtin_strategy(DualConfig(strategy.params, (LEG_A, LEG_B)))
