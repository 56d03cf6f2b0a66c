"""Backtesting: a vectorised MA-crossover engine for sweeps and an event-driven engine that replays
bars through the live strategy core. Both give the same trades; `io` and `chart` do the file work.
"""

from shared.backtest.data import bars_from_frame, synthetic_bars
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
    "Metrics",
    "Trade",
    "bars_from_frame",
    "run_event_driven",
    "run_vectorised",
    "synthetic_bars",
]
