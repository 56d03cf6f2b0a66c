"""Strategies and bars for the SDK backtest tests: a strategy that follows a plan, bar by bar."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from shared.backtest.sdk import SdkConfig, SdkResult, run_strategy
from shared.backtest.types import Bars
from shared.sdk import Bar, Context, Data, FillView, OrderView, Params, Strategy
from tests.unit.shared.backtest.helpers import MIN, T0

P = "X-USD"
FLAT = (10.0, 10.0, 10.0, 10.0)
Step = tuple[str, dict[str, Any]]


def ohlc(rows: Sequence[tuple[float, float, float, float]], *, start: int = T0, every: int = MIN) -> Bars:
    """Bars one minute apart from (open, high, low, close) rows."""
    cols = np.array(rows, dtype=np.float64).T
    time = start + np.arange(len(rows), dtype=np.int64) * every
    return Bars(time=time, open=cols[0], high=cols[1], low=cols[2], close=cols[3])


class PlanParams(Params, frozen=True, kw_only=True):
    product_id: str = P
    warmup_bars: int = 0


class Planned(Strategy[PlanParams]):
    """On its n-th live bar, does what `plan[n]` says: (`buy`|`sell`, kwargs for ctx.buy/sell),
    (`cancel`, {}) for the last order it placed, (`close`, {}) or (`exits`, kwargs). Records every
    order update and fill with the index of the bar that was last delivered."""

    def __init__(self, params: PlanParams) -> None:
        super().__init__(params)
        self.plan: dict[int, list[Step]] = {}
        self.n = 0
        self.warm_bars = 0
        self.started = 0
        self.last_id = ""
        self.orders: list[tuple[int, str, str]] = []
        self.fills: list[tuple[int, FillView]] = []

    def data(self) -> Data:
        return Data(bars_s=60, warmup_bars=self.params.warmup_bars)

    def on_start(self, ctx: Context) -> None:
        self.started += 1

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        if ctx.warming_up:
            self.warm_bars += 1
            return
        self.n += 1
        for op, kw in self.plan.get(self.n - 1, []):
            if op == "cancel":
                ctx.cancel(self.last_id)
            elif op == "close":
                ctx.close(self.params.product_id)
            elif op == "exits":
                ctx.exits(self.params.product_id, **kw)
            else:
                view = ctx.buy(P, **kw) if op == "buy" else ctx.sell(P, **kw)
                if view is not None:
                    self.last_id = view.id

    def on_order(self, order: OrderView, ctx: Context) -> None:
        self.orders.append((self.n, order.state.value, order.reason))

    def on_fill(self, fill: FillView, ctx: Context) -> None:
        self.fills.append((self.n, fill))


def run_plan(
    bars: Bars, plan: dict[int, list[Step]], *, warmup: int = 0, **cfg: Any
) -> tuple[SdkResult, Planned]:
    """Run `Planned` with `plan` (keys: live bar index) on one product's bars."""
    strategy = Planned(PlanParams(warmup_bars=warmup))
    strategy.plan = plan
    return run_strategy({P: bars}, strategy, SdkConfig(**cfg)), strategy


def buy(size: str, **kw: Any) -> Step:
    """A buy step; Decimal strings for `limit`."""
    if "limit" in kw:
        kw["limit"] = Decimal(kw["limit"])
    return ("buy", {"size": Decimal(size), **kw})


def sell(size: str, **kw: Any) -> Step:
    """A sell step; Decimal strings for `limit`."""
    if "limit" in kw:
        kw["limit"] = Decimal(kw["limit"])
    return ("sell", {"size": Decimal(size), **kw})
