"""The SDK backtest's bar fill model, computed by hand: market, limit, post-only, IOC, cancel,
stop-loss, fees, funds and the end-of-data close."""

from __future__ import annotations

from decimal import Decimal as D

from shared.backtest.sdk_venue import INSUFFICIENT_FUND, POST_ONLY_CROSSES
from shared.messages.orders import Liquidity, TimeInForce
from tests.unit.shared.backtest.helpers import MIN, T0
from tests.unit.shared.backtest.helpers_sdk import FLAT, buy, ohlc, run_plan, sell


def test_a_market_order_fills_at_the_next_open_with_slippage_and_taker_fee() -> None:
    bars = ohlc([FLAT, (11.0, 12.0, 10.5, 11.5), (12.0, 12.0, 12.0, 12.0)])
    result, s = run_plan(bars, {0: [buy("2")]}, fee_bps=D(10), maker_fee_bps=D(0), slippage_bps=D(100))
    ((n, fill),) = s.fills
    assert (n, fill.price, fill.size, fill.liquidity, fill.ts_ns) == (
        1,
        D("11.11"),
        D(2),
        Liquidity.TAKER,
        T0 + MIN,
    )
    assert fill.fee == D("11.11") * 2 * D("0.001")
    assert s.orders == [(1, "filled", "")]
    (trade,) = result.sdk_trades
    # Still long after the last bar: sold at the last close minus slippage, with the taker fee.
    assert (trade.entry_price, trade.exit_price, trade.exit_reason) == (D("11.11"), D("11.88"), "end_of_data")
    assert (trade.entry_time, trade.exit_time) == (T0 + MIN, T0 + 2 * MIN)
    assert trade.fees == D("0.02222") + D("0.02376")
    assert trade.pnl == 2 * (D("11.88") - D("11.11")) - trade.fees
    assert result.metrics.final_equity == float(D(10_000) + trade.pnl)
    assert result.trades["exit_reason"].to_list() == ["end_of_data"]


def test_fill_close_fills_a_market_order_at_the_bar_it_was_sent_on() -> None:
    bars = ohlc([FLAT, (11.0, 12.0, 10.5, 11.5)])
    _, s = run_plan(bars, {0: [buy("1")]}, fill="close")
    ((n, fill),) = s.fills
    assert (n, fill.price, fill.ts_ns) == (1, D("10.0"), T0)


def test_a_resting_limit_fills_at_its_price_as_maker_when_a_bar_trades_through_not_on_a_touch() -> None:
    bars = ohlc([FLAT, (10.0, 10.2, 9.5, 9.8), (9.8, 9.9, 9.4, 9.6), (9.6, 9.6, 9.6, 9.6)])
    result, s = run_plan(bars, {0: [buy("1", limit="9.50")]}, fee_bps=D(20), maker_fee_bps=D(5))
    assert s.orders == [(1, "open", ""), (2, "filled", "")]  # bar 1 only touched 9.50
    ((n, fill),) = s.fills
    assert (n, fill.price, fill.liquidity, fill.fee) == (
        2,
        D("9.50"),
        Liquidity.MAKER,
        D("9.50") * D("0.0005"),
    )
    (trade,) = result.sdk_trades
    assert trade.fees == D("9.50") * D("0.0005") + D("9.6") * D("0.002")  # maker in, taker out


def test_a_marketable_limit_takes_at_the_open_never_beyond_its_limit() -> None:
    bars = ohlc([FLAT, FLAT, (10.0, 10.0, 10.0, 10.0)])
    _, s = run_plan(bars, {0: [buy("1", limit="10.50")], 1: [sell("1", limit="9.00")]}, slippage_bps=D(1000))
    assert [(n, f.side.value, f.price, f.liquidity) for n, f in s.fills] == [
        (1, "BUY", D("10.50"), Liquidity.TAKER),  # 10 + 10 % slippage is 11: capped at the limit
        (2, "SELL", D("9.00"), Liquidity.TAKER),
    ]


def test_post_only_that_would_cross_is_rejected_and_one_that_would_not_rests() -> None:
    bars = ohlc([FLAT, FLAT, FLAT])
    _, s = run_plan(
        bars,
        {0: [buy("1", limit="10.00", post_only=True)], 1: [buy("1", limit="9.90", post_only=True)]},
    )
    assert s.orders == [(1, "rejected", POST_ONLY_CROSSES), (2, "open", "")]
    assert s.fills == []


def test_ioc_and_fok_limits_that_cannot_fill_at_once_are_cancelled() -> None:
    bars = ohlc([FLAT, (10.0, 10.0, 9.0, 9.5), FLAT])
    plan = {0: [buy("1", limit="9.90", time_in_force=TimeInForce.IOC)],
            1: [buy("1", limit="9.00", time_in_force=TimeInForce.FOK)]}  # fmt: skip
    _, s = run_plan(bars, plan)
    assert [state for _, state, _ in s.orders] == ["cancelled", "cancelled"]
    assert s.fills == []  # bar 1 traded down through 9.90, but an IOC order does not wait for it


def test_a_cancel_lands_before_the_next_bar_trades_through_the_order() -> None:
    bars = ohlc([FLAT, (10.0, 10.2, 9.5, 9.8), (9.8, 9.9, 9.0, 9.2)])
    _, s = run_plan(bars, {0: [buy("1", limit="9.50")], 1: [("cancel", {})]})
    assert s.orders == [(1, "open", ""), (2, "cancelled", "cancelled")]
    assert s.fills == []


def test_a_stop_loss_fires_on_a_bar_low_and_closes_at_the_next_open() -> None:
    bars = ohlc([FLAT, (10.0, 10.5, 9.8, 10.2), (10.2, 10.3, 9.0, 9.1), (8.8, 9.0, 8.5, 8.6), FLAT])
    plan = {0: [buy("1")], 1: [("exits", {"stop_loss": D("9.00")})]}
    result, s = run_plan(bars, plan)
    (trade,) = result.sdk_trades
    assert (trade.entry_price, trade.exit_price, trade.exit_reason) == (D("10.0"), D("8.8"), "stop_loss")
    assert (trade.entry_time, trade.exit_time) == (T0 + MIN, T0 + 3 * MIN)
    assert [f.tag for _, f in s.fills] == ["", "stop_loss"]
    assert result.extra["orders_sent"] == 2
    (fired,) = (line for line in result.extra["logs"] if line["event"] == "exit_fired")
    assert (fired["time"], fired["exit"], fired["low"]) == ("2025-01-01T00:03:00Z", "stop_loss", "9.0")


def test_a_buy_the_cash_cannot_cover_is_rejected_and_a_resting_buy_holds_its_cash() -> None:
    bars = ohlc([FLAT, FLAT, FLAT])
    _, s = run_plan(bars, {0: [buy("20")]}, capital=D(100))
    assert s.orders == [(1, "rejected", INSUFFICIENT_FUND)]
    _, s = run_plan(bars, {0: [buy("6", limit="9.00")], 1: [buy("6")]}, capital=D(100))
    assert s.orders == [(1, "open", ""), (2, "rejected", INSUFFICIENT_FUND)]  # 54 held, 60 > 46


def test_short_positions_and_flips_make_one_trade_per_side() -> None:
    bars = ohlc([FLAT, FLAT, (12.0, 12.0, 12.0, 12.0), (11.0, 11.0, 11.0, 11.0), FLAT])
    result, _ = run_plan(bars, {0: [buy("1")], 1: [sell("3")], 2: [buy("2")]})
    long, short = result.sdk_trades
    assert (long.direction, long.size, long.pnl, long.exit_time) == (1, D(1), D(2), T0 + 2 * MIN)
    assert (short.direction, short.size, short.entry_price, short.exit_price) == (-1, D(2), D(12), D(11))
    assert short.pnl == D(2)
    assert result.trades["direction"].to_list() == ["long", "short"]
    assert result.metrics.final_equity == 10_004.0


def test_warm_up_bars_are_folded_in_before_on_start_and_trading() -> None:
    bars = ohlc([FLAT] * 5)
    result, s = run_plan(bars, {0: [buy("1")]}, warmup=2)
    assert (s.warm_bars, s.started, s.n) == (2, 1, 3)
    assert [f.ts_ns for _, f in s.fills] == [T0 + 3 * MIN]  # first live bar is bar 2; fill at bar 3's open
    assert result.equity.height == 5
    assert result.extra["warmup_bars"] == 2


def test_an_order_still_resting_at_the_end_is_counted_not_filled() -> None:
    bars = ohlc([FLAT, FLAT])
    result, _ = run_plan(bars, {0: [buy("1", limit="5.00")]})
    assert result.extra["orders_open_at_end"] == 1
    assert result.sdk_trades == ()
    assert result.metrics.num_trades == 0
