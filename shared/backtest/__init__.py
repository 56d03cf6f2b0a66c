"""Backtesting: a vectorised MA-crossover engine for sweeps and an event-driven engine that replays
bars through the live strategy core (both give the same trades); a dual-leg event engine that runs
pairs and basis through the live `DualLegStrategy` (`dual`); `io`, `chart` and `rest_candles` (REST
candles cached as Parquet) do the file and network work.
"""

from shared.backtest.data import bars_from_frame, synthetic_bars
from shared.backtest.dual import run_dual
from shared.backtest.dual_types import DualBars, DualConfig, PairTrade
from shared.backtest.errors import BacktestError, DataError
from shared.backtest.event import run_event_driven
from shared.backtest.types import BacktestConfig, BacktestResult, Bars, Metrics, Trade
from shared.backtest.vectorised import run_vectorised

__all__ = [
    "BacktestConfig",
    "BacktestError",
    "BacktestResult",
    "Bars",
    "DataError",
    "DualBars",
    "DualConfig",
    "Metrics",
    "PairTrade",
    "Trade",
    "bars_from_frame",
    "run_dual",
    "run_event_driven",
    "run_vectorised",
    "synthetic_bars",
]
