"""Whole SDK backtests: the built-in MA crossover on the public API trades exactly as the MA
event engine does; failures are one line; several products; tick strategies; state that pickles."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest

from shared.backtest import BacktestConfig, run_event_driven, synthetic_bars
from shared.backtest.errors import BacktestError
from shared.backtest.report import result_summary
from shared.backtest.sdk import SdkConfig, StrategyFailed, run_strategy
from shared.backtest.types import Fill
from shared.messages.strategy import MaCrossoverParams
from shared.sdk import Bar, Context, Data, Params, Strategy, Tick
from shared.strategies.ma_strategy import MaCrossoverStrategy
from tests.unit.shared.backtest.helpers import MIN, T0
from tests.unit.shared.backtest.helpers_sdk import FLAT, P, Planned, PlanParams, ohlc


@pytest.mark.parametrize("fill", ["next-open", "close"])
def test_ma_crossover_on_the_public_api_trades_as_the_ma_event_engine(fill: Fill) -> None:
    bars = synthetic_bars(3_000, seed=5, interval_s=120, vol=0.01)
    costs = {"fill": fill, "fee_bps": D(20), "slippage_bps": D(5), "capital": D(10_000)}
    ref = run_event_driven(bars, BacktestConfig(short=5, long=20, size=D(2), **costs))  # type: ignore[arg-type]
    # interval_s 120 is no candle granularity: no warm-up, the core warms on the bars, as the engine's.
    params = MaCrossoverParams(product_id=P, short_window=5, long_window=20, interval_s=120, order_size=D(2))
    got = run_strategy({P: bars}, MaCrossoverStrategy(params), SdkConfig(maker_fee_bps=D(20), **costs))  # type: ignore[arg-type]
    assert len(ref.exact_trades) > 20
    assert [(t.entry_time, t.exit_time, t.entry_price, t.exit_price, t.size) for t in got.sdk_trades] == [
        (t.entry_time, t.exit_time, t.entry_price, t.exit_price, t.size) for t in ref.exact_trades
    ]
    assert [t.pnl for t in got.sdk_trades] == pytest.approx([t.pnl for t in ref.exact_trades], abs=D("1e-18"))
    assert got.metrics.final_equity == pytest.approx(ref.metrics.final_equity, rel=1e-12)
    assert got.equity["in_position"].to_list() == ref.equity["in_position"].to_list()
    signals = [line["action"] for line in got.logs if line["event"] == "signal"]
    assert got.extra["signals"] == len(signals) >= 2 * len(got.sdk_trades) - 1


class Boom(Planned):
    def on_bar(self, bar: Bar, ctx: Context) -> None:
        super().on_bar(bar, ctx)
        if self.n == 3:
            raise RuntimeError("boom\nsecond line")


def test_a_strategy_exception_is_one_line_with_the_bar_time_and_the_line() -> None:
    with pytest.raises(StrategyFailed) as caught:
        run_strategy({P: ohlc([FLAT] * 5)}, Boom(Boom.params_type()), SdkConfig())  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Boom failed at 2025-01-01T00:03:00Z (test_bt_sdk_runs.py:")
    assert message.endswith(" in on_bar): RuntimeError: boom")


class Locked(Planned):
    def on_start(self, ctx: Context) -> None:
        self.lock = threading.Lock()


def test_a_state_that_cannot_be_pickled_fails_the_backtest() -> None:
    with pytest.raises(StrategyFailed, match=r"^Locked state cannot be saved .*lock.*snapshots it"):
        run_strategy({P: ohlc([FLAT] * 3)}, Locked(Locked.params_type()), SdkConfig())  # type: ignore[arg-type]


class SpreadParams(Params, frozen=True, kw_only=True):
    size: D = D(1)


class BuyBoth(Strategy[SpreadParams]):
    """Buys one unit of each product on the first bar it sees of it."""

    def __init__(self, params: SpreadParams) -> None:
        super().__init__(params)
        self.seen: list[tuple[str, int]] = []

    def products(self) -> tuple[str, ...]:
        return ("A-USD", "B-USD")

    def data(self) -> Data:
        return Data(bars_s=60)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        self.seen.append((bar.product_id, bar.start))
        if not ctx.position(bar.product_id) and not ctx.open_orders(bar.product_id):
            ctx.buy(bar.product_id, self.params.size)


def test_products_are_merged_in_time_order_and_equity_uses_each_last_close() -> None:
    a = ohlc([FLAT, FLAT, (10.0, 10.0, 10.0, 11.0)])
    b = ohlc([(20.0, 20.0, 20.0, 20.0), (21.0, 21.0, 21.0, 22.0)], start=T0 + MIN)  # starts a bar later
    s = BuyBoth(SpreadParams())
    result = run_strategy({"A-USD": a, "B-USD": b}, s, SdkConfig())
    start = T0 // 1_000_000_000
    assert s.seen == [("A-USD", start), ("A-USD", start + 60), ("B-USD", start + 60), ("A-USD", start + 120),
                      ("B-USD", start + 120)]  # fmt: skip
    # A filled at 10 (bar 1's open), B at 21 (its bar at T0+2min): bar 2 ends at A 11, B 22.
    assert result.equity["equity"].to_list() == [10_000.0, 10_000.0, 10_002.0]
    assert sorted((t.product_id, t.entry_price) for t in result.sdk_trades) == [
        ("A-USD", D("10.0")),
        ("B-USD", D("21.0")),
    ]
    assert result_summary(result)["products"] == ["A-USD", "B-USD"]


def test_missing_products_and_too_few_bars_are_refused() -> None:
    with pytest.raises(BacktestError, match="no bars for B-USD"):
        run_strategy({"A-USD": ohlc([FLAT])}, BuyBoth(SpreadParams()), SdkConfig())
    planned = Planned(PlanParams(warmup_bars=3))
    with pytest.raises(BacktestError, match="warms up on 3 bars; the data has 3"):
        run_strategy({P: ohlc([FLAT] * 3)}, planned, SdkConfig())


class TickParams(Params, frozen=True, kw_only=True):
    product_id: str = P


class OnTicks(Strategy[TickParams]):
    def __init__(self, params: TickParams) -> None:
        super().__init__(params)
        self.lasts: list[D] = []

    def on_tick(self, tick: Tick, ctx: Context) -> None:
        self.lasts.append(tick.last)


def test_a_tick_strategy_gets_one_tick_per_bar_at_its_close() -> None:
    s = OnTicks(TickParams())
    run_strategy({P: ohlc([FLAT, (10.0, 12.0, 9.0, 11.0)])}, s, SdkConfig())
    assert s.lasts == [D("10.0"), D("11.0")]


def test_config_rejects_bad_costs() -> None:
    with pytest.raises(BacktestError, match="--maker-fee-bps must be in"):
        SdkConfig(maker_fee_bps=D(-1))
    with pytest.raises(BacktestError, match="--price-increment must be a positive number"):
        SdkConfig(price_increment=D(0))
