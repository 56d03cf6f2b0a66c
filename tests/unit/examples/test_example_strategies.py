"""The example strategies, as a user runs them: loaded by file reference from a folder outside the
repository, then backtested through the real SDK harness (the live runtime on bars, a simulated
venue). The RSI strategy trades both ways out (its own exit and the framework's stop-loss); the
maker strategy's fills are all maker fills at the maker fee, on the price grid, within its
inventory limit.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared.backtest.data import synthetic_bars
from shared.backtest.sdk import SdkConfig, SdkResult, run_strategy
from shared.backtest.types import Bars
from shared.sdk import Strategy
from shared.sdk.loader import MODULE_PREFIX, StrategyLoadError, load_class
from shared.sdk.state import dump_state, load_state
from shared.sdk.values import instantiate

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "strategies"
RSI = ("rsi_reversion.py", "RsiReversion")
MAKER = ("maker_quotes.py", "MakerQuotes")
P = "X-USD"
T0 = 1_735_689_600 * 1_000_000_000
MIN = 60 * 1_000_000_000


def load(example: tuple[str, str], folder: Path, **values: Any) -> Strategy[Any]:
    """The example copied to `folder` (a user's own), loaded by file reference, with `values`."""
    name, cls = example
    shutil.copy(EXAMPLES / name, folder / name)
    return instantiate(load_class(f"{folder / name}:{cls}"), {"product_id": P, **values}, strict=False)


def bars_of(closes: list[float]) -> Bars:
    """One-minute bars that open at the previous close, with a 5 bps wick either side."""
    close = np.array(closes, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    time = T0 + np.arange(len(close), dtype=np.int64) * MIN
    return Bars(
        time=time,
        open=open_,
        high=np.maximum(open_, close) * 1.0005,
        low=np.minimum(open_, close) * 0.9995,
        close=close,
    )


def rsi_path() -> list[float]:
    """Quiet, then a slide (oversold), a rally (overbought), quiet, and a long slide."""
    closes = [100 + 0.3 * math.sin(i) for i in range(80)]

    def move(pct: float, bars: int) -> None:
        for _ in range(bars):
            closes.append(closes[-1] * (1 + pct / 100))

    move(-1.0, 4)
    move(+1.0, 12)
    closes.extend(closes[-1] + 0.3 * math.sin(i) for i in range(20))
    move(-1.0, 12)
    return closes


@pytest.mark.parametrize("example", [RSI, MAKER])
def test_each_example_loads_by_file_reference_from_a_users_folder(
    example: tuple[str, str], tmp_path: Path
) -> None:
    strategy = load(example, tmp_path)
    assert type(strategy).__name__ == example[1]
    assert type(strategy).__module__.startswith(MODULE_PREFIX)
    assert strategy.products() == (P,)


def test_bad_params_are_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(StrategyLoadError, match=r"invalid params: lower: .*lower < upper"):
        load(RSI, tmp_path, lower="80", upper="70")
    with pytest.raises(StrategyLoadError, match=r"invalid params: periods: "):
        load(RSI, tmp_path, periods="14")
    with pytest.raises(StrategyLoadError, match=r"invalid params: order_size: .*max_inventory"):
        load(MAKER, tmp_path, order_size="1", max_inventory="0.5")


def test_rsi_reversion_buys_oversold_sells_overbought_and_is_stopped_out(tmp_path: Path) -> None:
    strategy = load(RSI, tmp_path, order_size="1", stop_loss_pct="2")
    result = run_strategy({P: bars_of(rsi_path())}, strategy, SdkConfig(fee_bps=Decimal(10)))

    trades = result.sdk_trades
    reasons = Counter(t.exit_reason for t in trades)
    assert reasons["exit"] >= 1
    assert reasons["stop_loss"] >= 1
    assert all(t.direction == 1 and t.size == 1 for t in trades)  # long only, order_size each time
    for t in trades:
        if t.exit_reason == "stop_loss":  # out at the open after the bar that crossed 2% below entry
            assert abs(t.exit_price / (t.entry_price * Decimal("0.98")) - 1) < Decimal("0.01")
        elif t.exit_reason == "exit":
            assert t.exit_price > t.entry_price  # the rally paid
    assert [line["exit"] for line in result.logs if line["event"] == "exit_fired"] == ["stop_loss"] * reasons[
        "stop_loss"
    ]

    # Its state (a deque of closes and the last RSI) is what a worker snapshots and restores.
    fresh = load(RSI, tmp_path, order_size="1", stop_loss_pct="2")
    load_state(fresh, dump_state(strategy))
    assert vars(fresh) == vars(strategy)


def maker_run(tmp_path: Path, **values: Any) -> SdkResult:
    strategy = load(MAKER, tmp_path, **values)
    bars = synthetic_bars(400, seed=11)
    return run_strategy({P: bars}, strategy, SdkConfig(fee_bps=Decimal(90), maker_fee_bps=Decimal(50)))


def test_maker_quotes_fill_only_as_maker_at_the_maker_fee_within_the_inventory_limit(tmp_path: Path) -> None:
    result = maker_run(tmp_path, half_spread_bps="10", requote_bps="2", order_size="1", max_inventory="2")

    fills = [line for line in result.logs if line["event"] == "quote_filled"]
    assert Counter(f["side"] for f in fills).keys() == {"BUY", "SELL"}
    for f in fills:
        price, size = Decimal(f["price"]), Decimal(f["size"])
        assert f["liquidity"] == "MAKER"
        assert Decimal(f["fee"]) == price * size * Decimal("0.005")
        assert price % Decimal("0.01") == 0  # on the product's price grid
        assert abs(Decimal(f["position"])) <= 2
    assert result.sdk_trades  # it round-trips
    assert sum(t.fees for t in result.sdk_trades) > 0
    # Quotes that never filled were replaced as the market moved (or pulled), not left behind.
    extra = result.extra
    assert extra["orders_sent"] > extra["orders_filled"] + extra["orders_open_at_end"]
    assert extra["orders_open_at_end"] <= 2  # one bid and one ask at most
