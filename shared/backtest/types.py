"""Value types of the backtester: bars in, config, trades and results out.

Bars are columnar numpy arrays rather than a list of objects so that the vectorised path can work
on them directly and the event-driven path can still walk them bar by bar without conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from shared.backtest.errors import BacktestError

if TYPE_CHECKING:
    from shared.backtest.dual_types import DualConfig, PairTrade
    from shared.backtest.sdk_types import SdkConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Moving averages of prices on a tick grid tie exactly (flat stretches), but float running sums
# leave ~1e-13 of noise where the true difference is 0, and that noise would decide the sign of a
# "cross". Both engines therefore call a difference within TIE_TOLERANCE × close of zero a tie. It
# sits far above the noise and far below any real difference (0.01 / (short × long) at tick 0.01).
TIE_TOLERANCE = 1e-9

Fill = Literal["next-open", "close"]
Cross = Literal["strict", "touch"]
Average = Literal["sma", "ema"]


@dataclass(frozen=True)
class Bars:
    """Validated OHLC bars, oldest first; `time` is the bar start in integer ns since the epoch (UTC)."""

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def slice(self, start: int, stop: int) -> Bars:
        """A contiguous sub-range (views, no copies); used for benchmarks and tests."""
        return Bars(
            self.time[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
        )


@dataclass(frozen=True)
class BacktestConfig:
    """Everything that decides a run besides the bars.

    `cross` picks the tie rule: "strict" needs the previous short strictly below the previous long
    (mirror for exits); "touch" is the live core's own rule, where a previous tie also counts (the
    event engine then passes the core's decisions through verbatim, float noise at ties included).
    `size` None means all-in: as many units as cash covers with the entry fee included.
    """

    short: int = 10
    long: int = 20
    average: Average = "sma"
    fill: Fill = "next-open"
    cross: Cross = "strict"
    fee_bps: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    capital: Decimal = Decimal(10_000)
    size: Decimal | None = None

    def __post_init__(self) -> None:
        if self.short < 1:
            raise BacktestError("--short must be at least 1")
        if self.short >= self.long:
            raise BacktestError(f"--short ({self.short}) must be smaller than --long ({self.long})")
        if not self.fee_bps.is_finite() or not Decimal(0) <= self.fee_bps < Decimal(10_000):
            raise BacktestError("--fee-bps must be in [0, 10000)")
        if not self.slippage_bps.is_finite() or not Decimal(0) <= self.slippage_bps < Decimal(10_000):
            raise BacktestError("--slippage-bps must be in [0, 10000)")
        if not self.capital.is_finite() or self.capital <= 0:
            raise BacktestError("--capital must be a positive number")
        if self.size is not None and (not self.size.is_finite() or self.size <= 0):
            raise BacktestError("--size must be a positive number")

    def describe(self) -> str:
        """One line for tables and chart titles."""
        return f"{self.average.upper()} {self.short}/{self.long}, fill {self.fill}, cross {self.cross}"


@dataclass(frozen=True)
class Trade:
    """One round trip in exact Decimal (event-driven path). Prices include slippage."""

    entry_time: int
    exit_time: int
    entry_price: Decimal
    exit_price: Decimal
    size: Decimal
    fees: Decimal
    pnl: Decimal
    exit_reason: Literal["signal", "end_of_data"]


@dataclass(frozen=True)
class Metrics:
    """Summary statistics of one run. Percentages are in percent; drawdown is a positive magnitude.

    `profit_factor` is None when there is no losing trade (it would be infinite); `cagr_pct`, `sharpe`
    and `sortino` are None when they are undefined (zero duration, no variance).
    """

    final_equity: float
    return_pct: float
    cagr_pct: float | None
    max_drawdown_pct: float
    sharpe: float | None
    sortino: float | None
    win_rate_pct: float | None
    profit_factor: float | None
    exposure_pct: float
    num_trades: int


TRADE_SCHEMA: dict[str, type[pl.DataType] | pl.DataType] = {
    "entry_time": pl.Datetime("ns", "UTC"),
    "exit_time": pl.Datetime("ns", "UTC"),
    "entry_price": pl.Float64,
    "exit_price": pl.Float64,
    "size": pl.Float64,
    "fees": pl.Float64,
    "pnl": pl.Float64,
    "exit_reason": pl.String,
}


@dataclass(frozen=True)
class BacktestResult:
    """What any engine returns. `trades` and `equity` are float frames (for files and metrics);
    `exact_trades` keeps the Decimal trades of the MA event-driven engine (empty for the vectorised
    one), `pair_trades` those of the pairs / basis engine (`DualConfig`). `extra` is run
    information the summary adds at its top level (the dual-leg engine's counters).
    """

    engine: Literal["vectorised", "event"]
    config: BacktestConfig | DualConfig | SdkConfig
    trades: pl.DataFrame
    equity: pl.DataFrame
    metrics: Metrics
    exact_trades: tuple[Trade, ...] = field(default=())
    pair_trades: tuple[PairTrade, ...] = field(default=())
    extra: dict[str, Any] = field(default_factory=dict)
