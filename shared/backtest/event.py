"""The event-driven engine: bars go one by one through the live strategy core, money in Decimal.

Slower than the vectorised engine but it is the honest one: the signal code is the service's, and
cash, positions and PnL are exact Decimals. Signals on bar i fill at bar i+1's open (`next-open`)
or at bar i's close (`close`). A position still open after the last bar is sold at the last close,
with fees and slippage, and the trade is marked `end_of_data`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

import numpy as np
import polars as pl

from shared.backtest.adapter import SignalCore, SignalStream, make_core
from shared.backtest.fills import buy_size, rates
from shared.backtest.metrics import compute_metrics
from shared.backtest.types import TRADE_SCHEMA, BacktestConfig, BacktestResult, Bars, Trade
from shared.money import ZERO


class _Book:
    """Cash, the open position and the finished trades of one run."""

    def __init__(self, cfg: BacktestConfig) -> None:
        self.cfg = cfg
        self.fee, self.slip = rates(cfg)
        self.cash = cfg.capital
        self.units = ZERO
        self.entry: tuple[int, Decimal, Decimal] | None = None  # time, price, fee
        self.trades: list[Trade] = []

    def buy(self, time: int, raw: Decimal) -> bool:
        """Enter at `raw` plus slippage; False when a fixed size is more than the cash covers."""
        price = raw * (1 + self.slip)
        size = buy_size(self.cash, price, self.fee, self.cfg.size)
        if size is None:
            return False
        fee = size * price * self.fee
        self.cash -= size * price + fee
        self.units = size
        self.entry = (time, price, fee)
        return True

    def sell(self, time: int, raw: Decimal, reason: Literal["signal", "end_of_data"]) -> None:
        """Exit the whole position at `raw` minus slippage and book the round trip."""
        assert self.entry is not None
        entry_time, entry_price, entry_fee = self.entry
        price = raw * (1 - self.slip)
        fee = self.units * price * self.fee
        self.cash += self.units * price - fee
        pnl = self.units * (price - entry_price) - entry_fee - fee
        self.trades.append(
            Trade(entry_time, time, entry_price, price, self.units, entry_fee + fee, pnl, reason)
        )
        self.units, self.entry = ZERO, None


PROGRESS_EVERY = 20_000


def run_event_driven(
    bars: Bars,
    cfg: BacktestConfig,
    core: SignalCore | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay `bars` through `core` (default: the shared MA crossover core built from `cfg`).

    `on_progress(done, total)` is called every `PROGRESS_EVERY` bars and at the end.
    """
    stream = SignalStream(core if core is not None else make_core(cfg), cfg.cross)
    book = _Book(cfg)
    n = len(bars)
    times = bars.time.tolist()
    closes = [Decimal(repr(x)) for x in bars.close.tolist()]
    opens = bars.open.tolist()
    next_open = cfg.fill == "next-open"
    pending: str | None = None
    equity: list[Decimal] = []
    held = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        t = times[i]
        if pending is not None:
            if pending == "buy":
                if not book.buy(t, Decimal(repr(opens[i]))):
                    stream.reject_entry()
            else:
                book.sell(t, Decimal(repr(opens[i])), "signal")
            pending = None
        signal = stream.step(t, closes[i])
        if signal is not None:
            if next_open:
                pending = signal
            elif signal == "buy":
                if not book.buy(t, closes[i]):
                    stream.reject_entry()
            else:
                book.sell(t, closes[i], "signal")
        held[i] = book.units > 0
        equity.append(book.cash + book.units * closes[i])
        if on_progress is not None and (i + 1) % PROGRESS_EVERY == 0:
            on_progress(i + 1, n)
    if book.entry is not None:
        book.sell(times[-1], closes[-1], "end_of_data")
        equity[-1] = book.cash
    if on_progress is not None:
        on_progress(n, n)
    return _result(bars, cfg, book.trades, equity, held)


def _result(
    bars: Bars, cfg: BacktestConfig, trades: list[Trade], equity: list[Decimal], held: np.ndarray
) -> BacktestResult:
    eq = np.array([float(x) for x in equity], dtype=np.float64)
    pnl = np.array([float(t.pnl) for t in trades], dtype=np.float64)
    frame = pl.DataFrame(
        {
            "entry_time": [t.entry_time for t in trades],
            "exit_time": [t.exit_time for t in trades],
            "entry_price": [float(t.entry_price) for t in trades],
            "exit_price": [float(t.exit_price) for t in trades],
            "size": [float(t.size) for t in trades],
            "fees": [float(t.fees) for t in trades],
            "pnl": pnl,
            "exit_reason": [t.exit_reason for t in trades],
        },
        schema_overrides={"entry_time": pl.Int64, "exit_time": pl.Int64, "exit_reason": pl.String},
    ).cast(TRADE_SCHEMA)  # type: ignore[arg-type]
    curve = pl.DataFrame({"time": bars.time, "equity": eq, "in_position": held}).with_columns(
        pl.col("time").cast(pl.Datetime("ns", "UTC"))
    )
    return BacktestResult(
        engine="event",
        config=cfg,
        trades=frame,
        equity=curve,
        metrics=compute_metrics(bars.time, eq, held, pnl, float(cfg.capital)),
        exact_trades=tuple(trades),
    )
