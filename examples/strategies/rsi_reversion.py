"""RSI mean reversion on closed bars: buy when the RSI of the closes drops below `lower`, sell the
position when it rises above `upper`, and let the framework stop the loss if the price keeps
falling after the entry (`ctx.exits`).

The RSI comes from the `ta` package. `ta` works on pandas Series, so only the last few periods of
closes are kept (a bounded deque) and the indicator is computed over them on each bar: the cost
per bar stays small and constant, and the deque is part of the state the framework snapshots.

    algopioneer backtest --strategy examples/strategies/rsi_reversion.py:RsiReversion --synthetic \\
        --param product_id=BTC-USD --param interval_s=60
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import pandas as pd
from ta.momentum import RSIIndicator

from shared.sdk import Bar, Context, Data, FillView, Params, SignalAction, Strategy

HISTORY = 5
"""Closes kept, in periods: RSI smooths exponentially, so 5 periods of history approximate the
value over the whole series to well under one RSI point."""


class RsiParams(Params, frozen=True, kw_only=True):
    product_id: str = "BTC-USD"
    interval_s: int = 60
    """Bar length in seconds."""
    period: int = 14
    """RSI window, in bars."""
    lower: float = 30.0
    """Buy when the RSI is below this (oversold)."""
    upper: float = 70.0
    """Sell the position when the RSI is above this (overbought)."""
    order_size: Decimal = Decimal("0.001")
    stop_loss_pct: Decimal = Decimal("2")
    """Close at market when the price falls this many percent below the entry price."""

    def __post_init__(self) -> None:
        if self.interval_s < 1 or self.period < 2:
            raise ValueError("interval_s must be at least 1 and period at least 2")
        if not 0 < self.lower < self.upper < 100:
            raise ValueError("lower and upper must satisfy 0 < lower < upper < 100")
        if self.order_size <= 0 or not 0 < self.stop_loss_pct < 100:
            raise ValueError("order_size must be positive and stop_loss_pct within (0, 100)")


class RsiReversion(Strategy[RsiParams]):
    def __init__(self, params: RsiParams) -> None:
        super().__init__(params)
        self.closes: deque[float] = deque(maxlen=params.period * HISTORY)
        self.rsi: float | None = None

    def data(self) -> Data:
        # Warm-up candles are fetched when interval_s is a venue granularity (60, 300, ...);
        # otherwise the strategy warms up on live bars.
        return Data(bars_s=self.params.interval_s, warmup_bars=self.params.period * HISTORY)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        p = self.params
        self.closes.append(float(bar.close))
        if ctx.warming_up or len(self.closes) <= p.period or ctx.open_orders(p.product_id):
            return  # history only, too little of it, or an order still working
        self.rsi = float(RSIIndicator(pd.Series(self.closes), window=p.period).rsi().iloc[-1])
        held = ctx.position(p.product_id)
        if held == 0 and self.rsi < p.lower:
            ctx.buy(p.product_id, p.order_size, tag="entry")
            ctx.signal(SignalAction.BUY, value=self.rsi, reason="rsi_below_lower")
        elif held > 0 and self.rsi > p.upper:
            ctx.close(p.product_id, tag="exit")
            ctx.signal(SignalAction.SELL, value=self.rsi, reason="rsi_above_upper")

    def on_fill(self, fill: FillView, ctx: Context) -> None:
        if fill.tag == "entry":  # protect the position from its entry price
            stop = fill.price * (1 - self.params.stop_loss_pct / 100)
            ctx.exits(fill.product_id, stop_loss=stop)
