"""Pairs and basis backtests through the live `DualLegStrategy`, checked against hand numbers."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from shared.backtest.dual import run_dual
from shared.backtest.dual_types import PairTrade
from shared.backtest.errors import BacktestError
from shared.backtest.report import result_summary
from shared.backtest.types import BacktestResult
from tests.unit.shared.backtest.helpers import MIN, T0
from tests.unit.shared.backtest.helpers_dual import (
    BASIS_FUT,
    BASIS_SPOT,
    LEG_A,
    LEG_B,
    NANO,
    PAIRS_A,
    PAIRS_B,
    SPOT,
    cfg,
    cointegrated,
    dual_bars,
)


def _trades(res: BacktestResult) -> list[PairTrade]:
    assert res.exact_trades == ()
    return list(res.pair_trades)


def _machine_agrees(res: BacktestResult) -> None:
    """The venue's Decimal account and the machine's own fill bookkeeping give the same PnL."""
    closed = [t for t in _trades(res) if t.exit_reason != "end_of_data"]
    assert D(res.extra["realized_pnl_machine"]) == sum((t.pnl for t in closed), D(0))


def test_pairs_round_trip_next_open_with_fees() -> None:
    res = run_dual(dual_bars(PAIRS_A, PAIRS_B), cfg("pairs", (LEG_A, LEG_B), fee_bps=D(10)))
    (t,) = _trades(res)
    # Signal on bar 5's close (z = -2): long the spread, filled at bar 6's opens (90 / 100).
    assert (t.entry_time, t.exit_time, t.direction, t.exit_reason) == (
        T0 + 6 * MIN,
        T0 + 7 * MIN,
        1,
        "signal",
    )
    a, b = t.legs
    size_a = D("11.1111")  # 1000 / 90 rounded down to 0.0001
    size_b = D("10.0000")  # 11.1111 × 90 / 100 = 9.99999 → nearest 0.0001
    assert (a.side, a.size, a.entry_price, a.exit_price) == ("buy", size_a, D(90), D(100))
    assert (b.side, b.size, b.entry_price, b.exit_price) == ("sell", size_b, D(100), D(100))
    fee = D("0.001")
    assert a.fees == size_a * 90 * fee + size_a * 100 * fee
    assert a.pnl == size_a * 10 - a.fees == D("108.999891")
    assert b.pnl == -2 * size_b * 100 * fee == D(-2)
    assert t.pnl == D("106.999891")
    assert res.metrics.final_equity == pytest.approx(10_106.999891)
    assert res.extra["orders_filled"] == 4
    assert res.extra["machine_state_at_end"] == "flat"
    _machine_agrees(res)


def test_pairs_close_fills_and_json_shape() -> None:
    res = run_dual(dual_bars(PAIRS_A, PAIRS_B), cfg("pairs", (LEG_A, LEG_B), fill="close"))
    (t,) = _trades(res)
    assert (t.entry_time, t.exit_time) == (T0 + 5 * MIN, T0 + 6 * MIN)
    assert t.pnl == D("11.1111") * 10
    doc = result_summary(res)
    (row,) = doc["trades"]
    assert {"entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl"} <= set(row)
    assert row["entry_time"] == "2025-01-01T00:05:00Z"
    assert (row["entry_price"], row["exit_price"], row["size"]) == (90.0, 100.0, 11.1111)
    assert (row["leg2_product_id"], row["leg2_side"], row["direction"]) == ("B-USD", "sell", "long")
    assert doc["config"]["params"]["window"] == 5
    assert doc["strategy"] == "pairs"


def test_pairs_short_spread_is_closed_by_buying_leg_1() -> None:
    a = [100, 100, 100, 100, 100, 110, 100, 100]
    res = run_dual(dual_bars(a, [100] * 8), cfg("pairs", (LEG_A, LEG_B), slippage_bps=D(10)))
    (t,) = _trades(res)
    assert (t.direction, t.legs[0].side, t.legs[1].side) == (-1, "sell", "buy")
    assert t.legs[0].entry_price == D(110) * D("0.999")  # sells lower, buys higher
    assert t.legs[0].exit_price == D(100) * D("1.001")
    _machine_agrees(res)


def test_basis_round_trip_whole_contracts_and_fees() -> None:
    res = run_dual(dual_bars(BASIS_SPOT, BASIS_FUT), cfg("basis", (SPOT, NANO), fee_bps=D(5)))
    (t,) = _trades(res)
    spot, fut = t.legs
    assert (t.entry_time, t.exit_time, t.direction) == (T0 + 2 * MIN, T0 + 4 * MIN, 1)
    assert (spot.side, spot.size, spot.entry_price, spot.exit_price) == (
        "buy",
        D("0.1"),
        D(50_000),
        D(50_000),
    )
    # 0.1 BTC is hedged by 10 nano contracts of 0.01 BTC: notional = 10 × 0.01 × price.
    assert (fut.side, fut.size, fut.entry_price, fut.exit_price) == ("sell", D(10), D(50_250), D(50_050))
    fee = D("0.0005")
    assert spot.fees == 2 * D("0.1") * 50_000 * fee == D(5)
    assert fut.fees == D("0.1") * (50_250 + 50_050) * fee == D("5.015")
    assert fut.pnl == D("0.1") * 200 - fut.fees == D("14.985")
    assert t.pnl == D("9.985")
    assert res.metrics.final_equity == pytest.approx(10_009.985)
    _machine_agrees(res)


def test_open_basis_position_is_closed_at_the_last_bar() -> None:
    bars = dual_bars(BASIS_SPOT[:3], BASIS_FUT[:3])  # ends in position, before the exit signal
    res = run_dual(bars, cfg("basis", (SPOT, NANO), fee_bps=D(5), slippage_bps=D(2)))
    (t,) = _trades(res)
    assert (t.exit_time, t.exit_reason) == (T0 + 2 * MIN, "end_of_data")
    spot, fut = t.legs
    assert spot.exit_price == D(50_000) * D("0.9998")
    assert fut.exit_price == D(50_250) * D("1.0002")
    assert res.metrics.final_equity == pytest.approx(10_000 + float(t.pnl))
    assert res.equity["in_position"].to_list() == [False, False, True]
    assert res.extra["realized_pnl_machine"] == "0"  # the machine never saw the liquidation


def test_signal_on_the_last_bar_stays_unfilled_under_next_open() -> None:
    res = run_dual(dual_bars(BASIS_SPOT[:2], BASIS_FUT[:2]), cfg("basis", (SPOT, NANO), fee_bps=D(5)))
    assert res.pair_trades == ()
    assert res.extra["orders_unfilled_at_end"] == 2
    assert res.metrics.final_equity == 10_000


def test_equity_is_marked_to_both_legs() -> None:
    res = run_dual(dual_bars(BASIS_SPOT, BASIS_FUT), cfg("basis", (SPOT, NANO), fee_bps=D(5)))
    eq = res.equity["equity"].to_list()
    entry_fees = 2.5 + 2.5125
    # Short 10 contracts from 50250: at bar 3's close (50050) the short is up 0.1 × 200.
    assert eq[:2] == [10_000.0] * 2
    assert eq[2] == pytest.approx(10_000 - entry_fees)
    assert eq[3] == pytest.approx(10_020 - entry_fees)


def test_bad_params_are_one_line_errors() -> None:
    with pytest.raises(BacktestError, match="exit_z"):
        cfg("pairs", (LEG_A, LEG_B), entry_z=1.0, exit_z=2.0)
    with pytest.raises(BacktestError, match="exit_bps must be below entry_bps"):
        cfg("basis", (SPOT, NANO), entry_bps=D(1), exit_bps=D(2))
    with pytest.raises(BacktestError, match="fee-bps"):
        cfg("basis", (SPOT, NANO), fee_bps=D(-1))


@pytest.mark.parametrize("hedge", ["ols", "kalman", "fixed"])
def test_long_run_books_agree_and_every_order_fills(hedge: str) -> None:
    """Hundreds of trades on a random cointegrated pair: the venue's account and the machine's
    fill bookkeeping agree to the last Decimal digit, nothing is left unfilled or reconciled."""
    config = cfg("pairs", (LEG_A, LEG_B), window=30, entry_z=2.0, exit_z=0.5, hedge_ratio=hedge,
                 notional=D(5000), fee_bps=D(2), slippage_bps=D(1))  # fmt: skip
    res = run_dual(cointegrated(3_000), config)
    trades = _trades(res)
    assert len(trades) > 20
    assert res.extra["reconciliations"] == 0
    assert res.extra["orders_unfilled_at_end"] == 0
    assert res.extra["orders_filled"] >= 4 * (len(trades) - 1)
    _machine_agrees(res)
    final = D(10_000) + sum((t.pnl for t in trades), D(0))
    assert res.metrics.final_equity == pytest.approx(float(final))
    assert all(t.legs[0].side != t.legs[1].side for t in trades)
