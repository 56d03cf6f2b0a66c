"""Backtest any SDK strategy: bars through the same `Runner` the live engine drives.

Bars of every product go in time order through `Runner.on_bar`, exactly the calls a live instance
makes; the orders the strategy sends go to `SimVenue` (its bar fill model is in that module), and
the venue's fills and order updates come back to the runner as execution would report them.

Warm-up is the live one: the first `data().warmup_bars` bar times are folded in with
`ctx.warming_up` true (orders refused), then `on_start`, then trading bars. A strategy that takes
ticks and no bars gets one tick per bar, at its close (bid = ask = last = close); one that takes
bars gets bars only. Book and public trade data are not in bars: `on_book` / `on_trade` are never
called. The strategy's log lines and signals are kept (`SdkResult.logs`; the first `MAX_LOGS` in
the summary).

A strategy exception stops the run with one line naming the bar time and where it was raised;
after the last bar the strategy's state must pickle (what a live instance snapshots), so a state
that cannot be saved is found here rather than in production.
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import polars as pl

from shared.backtest.dual import MAX_LOGS
from shared.backtest.errors import BacktestError
from shared.backtest.metrics import compute_metrics
from shared.backtest.report import iso
from shared.backtest.sdk_trades import trades_frame
from shared.backtest.sdk_types import SdkConfig, SdkResult, StrategyFailed
from shared.backtest.sdk_venue import Report, SimFill, SimOrder, SimVenue
from shared.backtest.types import Bars
from shared.messages.orders import OrderType, client_order_id
from shared.messages.strategy import SignalAction
from shared.money import ZERO
from shared.sdk.api import Bar, Strategy, Tick
from shared.sdk.runtime import Effects, Runner
from shared.sdk.state import StateError, dump_state

PROGRESS_EVERY = 20_000
STRATEGY_ID = "backtest"
_NS = 1_000_000_000
_LOADED_AS = re.compile(r"@[0-9a-f]{12}$")
EXECUTION_TIMEOUT_NS = 10 * _NS
"""Unused: a simulated venue answers every order at once (the runner's timer is never run)."""
__all__ = ["SdkConfig", "SdkResult", "StrategyFailed", "check_state", "run_strategy", "strategy_failures"]


@dataclass(frozen=True)
class _Step:
    """One bar time and the bars of the products that have one."""

    time: int
    bars: tuple[Bar, ...]


def _steps(bars_by_product: dict[str, Bars], products: tuple[str, ...]) -> list[_Step]:
    """Every product's bars merged in time order (products in `products()` order within a time)."""
    missing = [p for p in products if p not in bars_by_product]
    if missing:
        raise BacktestError(f"no bars for {', '.join(missing)} (the strategy trades {', '.join(products)})")
    by_time: dict[int, list[Bar]] = {}
    for product in products:
        bars = bars_by_product[product]
        if len(bars) == 0:
            raise BacktestError(f"no bars for {product}")
        times = bars.time.tolist()
        step = int(np.median(np.diff(bars.time))) // _NS if len(bars) > 1 else 60
        cols = [[Decimal(repr(x)) for x in c.tolist()] for c in (bars.open, bars.high, bars.low, bars.close)]
        for i, t in enumerate(times):
            by_time.setdefault(t, []).append(
                Bar(
                    product_id=product,
                    start=t // _NS,
                    interval_s=max(step, 1),
                    open=cols[0][i],
                    high=cols[1][i],
                    low=cols[2][i],
                    close=cols[3][i],
                    volume=ZERO,
                )
            )
    return [_Step(t, tuple(by_time[t])) for t in sorted(by_time)]


class _Harness:
    """The loop's state: the runner, the venue, and where the strategy's orders go."""

    def __init__(self, strategy: Strategy[Any], cfg: SdkConfig, products: tuple[str, ...]) -> None:
        self.strategy = strategy
        self.cfg = cfg
        self.products = products
        infos = {p: cfg.info(p) for p in products}
        self.runner = Runner(STRATEGY_ID, strategy, infos, cfg.costs(), EXECUTION_TIMEOUT_NS)
        self.venue = SimVenue(
            infos,
            capital=cfg.capital,
            taker_bps=cfg.fee_bps,
            maker_bps=cfg.maker_fee_bps,
            slippage_bps=cfg.slippage_bps,
            on_report=self._report,
        )
        self.now = 0
        self.sent = self.signals = 0
        self.logs: list[dict[str, Any]] = []

    def apply(self, effects: Effects) -> None:
        """Send the strategy's orders and cancels to the venue; keep its signals and logs."""
        for request in effects.orders:
            self.sent += 1
            product = self.products[request.leg - 1]
            limit = request.limit_price if request.order_type is OrderType.LIMIT else None
            coid = client_order_id(STRATEGY_ID, request.seq, request.leg)
            self.venue.submit(
                SimOrder(
                    id=coid,
                    product_id=product,
                    side=request.side,
                    size=request.size,
                    limit=limit,
                    tif=request.time_in_force,
                    post_only=request.post_only,
                    tag=request.reason,
                )
            )
        for coid in effects.cancels:
            self.venue.cancel(coid)
        for line in effects.logs:
            self.logs.append({"time": iso(line.ts_ns or self.now), "event": line.event, **line.fields})
        signal = effects.decision
        if signal is not None and signal.action is not SignalAction.HOLD:
            self.signals += 1
            self.logs.append({"time": iso(self.now), "event": "signal", "action": signal.action.value,
                              "value": signal.value, "reason": signal.reason})  # fmt: skip

    def _report(self, report: Report) -> None:
        if isinstance(report, SimFill):
            effects = self.runner.on_fill(
                report.trade_id, report.order_id, report.price, report.size, report.fee,
                report.liquidity, report.ts_ns, now_ns=self.now,
            )  # fmt: skip
        else:
            effects = self.runner.on_order_update(
                report.order_id, report.status, report.filled, report.average_price, report.reason,
                now_ns=self.now,
            )  # fmt: skip
        self.apply(effects)

    def step(self, step: _Step, close_fill: bool, ticks: bool) -> None:
        """One bar time: cancels land, orders arrive (at the open), resting limits meet the bars'
        ranges, the bars go to the strategy, and (close fills) its orders arrive at the closes."""
        self.now = step.time
        self.venue.apply_cancels()
        if not close_fill:
            self.venue.arrive_all({b.product_id: b.open for b in step.bars}, step.time)
        for bar in step.bars:
            self.venue.trade_through(bar.product_id, bar.low, bar.high, step.time)
        for bar in step.bars:
            self.now = (bar.start + bar.interval_s) * _NS
            if ticks:
                c = bar.close
                self.apply(
                    self.runner.on_tick(Tick(product_id=bar.product_id, bid=c, ask=c, last=c, ts_ns=self.now))
                )
            else:
                self.apply(self.runner.on_bar(bar))
        if close_fill:
            closes = {b.product_id: b.close for b in step.bars}
            for _ in range(1_000):
                if not self.venue.arrive_all(closes, step.time):
                    return
            raise BacktestError("the strategy kept sending orders in reaction to its own fills (1000 rounds)")


def run_strategy(
    bars_by_product: dict[str, Bars],
    strategy: Strategy[Any],
    cfg: SdkConfig,
    on_progress: Callable[[int, int], None] | None = None,
) -> SdkResult:
    """Backtest `strategy` on each product's bars (keys: its `products()`); see the module doc."""
    products = tuple(strategy.products())
    data = strategy.data()
    steps = _steps(bars_by_product, products)
    warm = data.warmup_bars
    if warm >= len(steps):
        raise BacktestError(f"the strategy warms up on {warm} bars; the data has {len(steps)} bar times")
    if not (data.bars_s or data.ticks):
        raise BacktestError(
            f"{type(strategy).__name__}.data() asks for neither bars nor ticks; a backtest delivers bars"
            " (or, to a tick strategy, one tick per bar at its close)"
        )
    h = _Harness(strategy, cfg, products)
    ticks = not data.bars_s
    with strategy_failures(strategy, lambda: h.now):
        h.runner.warm([bar for step in steps[:warm] for bar in step.bars])
        h.now = steps[warm].time
        h.apply(h.runner.start(steps[warm].time))
        n = len(steps)
        closes: dict[str, Decimal] = {}
        equity: list[Decimal] = [cfg.capital] * warm
        held = np.zeros(n, dtype=np.bool_)
        for i in range(warm, n):
            h.step(steps[i], cfg.fill == "close", ticks)
            closes.update((b.product_id, b.close) for b in steps[i].bars)
            equity.append(h.venue.equity(closes))
            held[i] = any(q != ZERO for q in h.venue.positions.values())
            if on_progress is not None and (i + 1) % PROGRESS_EVERY == 0:
                on_progress(i + 1, n)
        check_state(strategy)
    last = steps[-1].time
    if any(q != ZERO for q in h.venue.positions.values()):
        h.venue.liquidate(closes, last)
        equity[-1] = h.venue.cash
    if on_progress is not None:
        on_progress(n, n)
    return _result(h, steps, cfg, equity, held)


def _result(
    h: _Harness, steps: list[_Step], cfg: SdkConfig, equity: list[Decimal], held: np.ndarray
) -> SdkResult:
    times = np.array([s.time for s in steps], dtype=np.int64)
    eq = np.array([float(x) for x in equity], dtype=np.float64)
    trades = h.venue.trades.done
    pnl = np.array([float(t.pnl) for t in trades], dtype=np.float64)
    curve = pl.DataFrame({"time": times, "equity": eq, "in_position": held}).with_columns(
        pl.col("time").cast(pl.Datetime("ns", "UTC"))
    )
    extra: dict[str, Any] = {
        "strategy": type(h.strategy).__name__,
        "params": msgspec.to_builtins(h.strategy.params),
        "products": list(h.products),
        "bars": len(steps),
        "warmup_bars": h.strategy.data().warmup_bars,
        "orders_sent": h.sent,
        "orders_filled": h.venue.fills,
        "orders_open_at_end": h.venue.open_orders,
        "signals": h.signals,
    }
    if h.logs:  # the strategy's log lines and signals, as plain data (the first MAX_LOGS)
        extra["logs"] = msgspec.to_builtins(h.logs[:MAX_LOGS], enc_hook=str)
        extra["logs_total"] = len(h.logs)
    return SdkResult(
        engine="event",
        config=cfg,
        trades=trades_frame(trades),
        equity=curve,
        metrics=compute_metrics(times, eq, held, pnl, float(cfg.capital)),
        extra=extra,
        sdk_trades=tuple(trades),
        logs=tuple(h.logs),
    )


def check_state(strategy: Strategy[Any]) -> None:
    """The strategy's state must pickle: a live instance snapshots it after every event."""
    try:
        dump_state(strategy)
    except StateError as exc:
        raise StrategyFailed(f"{exc} (a live instance snapshots it after every event)") from None


@contextmanager
def strategy_failures(strategy: Strategy[Any], now: Callable[[], int] | None = None) -> Iterator[None]:
    """Turn a strategy exception into one line: what, when (the bar time, when `now` tells it)
    and where in the strategy's file."""
    try:
        yield
    except BacktestError:
        raise
    except Exception as exc:
        cls = type(strategy)
        text = str(exc).strip().splitlines()
        what = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        when = f" at {iso(now())}" if now is not None else ""
        raise StrategyFailed(f"{cls.__name__} failed{when}{_where(exc, cls)}: {what}") from exc


def _where(exc: BaseException, cls: type[Any]) -> str:
    """' (FILE:LINE in METHOD)' for the deepest frame in the strategy's own file, else ''."""
    try:
        own = inspect.getfile(cls)
    except (TypeError, OSError):
        return ""
    frames: Iterator[traceback.FrameSummary] = reversed(traceback.extract_tb(exc.__traceback__))
    for frame in frames:
        if frame.filename == own:
            name = _LOADED_AS.sub("", Path(own).name)  # the loader's `file.py@<sha>` name
            return f" ({name}:{frame.lineno} in {frame.name})"
    return ""
