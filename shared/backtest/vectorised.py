"""The vectorised MA-crossover engine: numpy/polars over whole arrays, fast enough for sweeps.

Averages and crossings are computed for every bar at once; only the (sparse) crossing events are
walked in Python, because whether a crossing trades depends on the position and the cash, which
depend on earlier trades. It must give the same trades as the event-driven engine (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from shared.backtest.fills import buy_size_f, rates
from shared.backtest.metrics import compute_metrics
from shared.backtest.types import (
    TIE_TOLERANCE,
    TRADE_SCHEMA,
    Average,
    BacktestConfig,
    BacktestResult,
    Bars,
    BoolArray,
    Cross,
    FloatArray,
    IntArray,
    Metrics,
)


def moving_average(close: FloatArray, window: int, average: Average = "sma") -> FloatArray:
    """SMA or EMA (alpha 2/(w+1), seeded with the first value) with NaN until `window` values exist,
    matching `shared.indicators.Sma` / `Ema` (up to float rounding)."""
    series = pl.Series(close)
    if average == "ema":
        out = series.ewm_mean(span=window, adjust=False, min_samples=window)
    else:
        out = series.rolling_mean(window)
    return out.fill_null(float("nan")).to_numpy()


def crossings(
    short: FloatArray, long: FloatArray, cross: Cross, close: FloatArray | None = None
) -> tuple[IntArray, IntArray]:
    """Bar indices of golden (+1) and death (-1) crossings, sorted, as (index, kind).

    A difference within `TIE_TOLERANCE × close` of zero is a tie (see `TIE_TOLERANCE`); without
    `close` the comparisons are exact. NaN compares false, so no crossing appears before both
    averages exist on this and the previous bar.
    """
    diff = short - long
    tol = TIE_TOLERANCE * close if close is not None else np.zeros_like(diff)
    prev, cur, tp, tc = diff[:-1], diff[1:], tol[:-1], tol[1:]
    with np.errstate(invalid="ignore"):
        if cross == "strict":
            golden = (prev < -tp) & (cur > tc)
            death = (prev > tp) & (cur < -tc)
        else:
            golden = (prev <= tp) & (cur > tc)
            death = (prev >= -tp) & (cur < -tc)
    g = np.flatnonzero(golden) + 1
    d = np.flatnonzero(death) + 1
    idx = np.concatenate([g, d])
    kind = np.concatenate([np.ones_like(g), -np.ones_like(d)])
    order = np.argsort(idx, kind="stable")
    return idx[order].astype(np.int64), kind[order].astype(np.int64)


@dataclass(frozen=True)
class TradeArrays:
    """Columnar trades: bar indices of the fills, held interval [entry_bar, held_until) and money."""

    entry_bar: IntArray
    exit_bar: IntArray
    held_until: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    size: FloatArray
    fees: FloatArray
    pnl: FloatArray
    cash_in: FloatArray
    cash_out: FloatArray
    end_of_data: BoolArray


def walk_events(bars: Bars, cfg: BacktestConfig, idx: IntArray, kind: IntArray) -> TradeArrays:
    """Turn crossing events into trades, position- and cash-aware (the only sequential part)."""
    n = len(bars)
    fee_d, slip_d = rates(cfg)
    fee, slip = float(fee_d), float(slip_d)
    fixed = float(cfg.size) if cfg.size is not None else None
    offset = 1 if cfg.fill == "next-open" else 0
    fill_px = bars.open if cfg.fill == "next-open" else bars.close
    cash = float(cfg.capital)
    rows: list[tuple[int, int, int, float, float, float, float, float, float, float, bool]] = []
    is_open = False
    e_bar, e_px, e_size, e_fee, e_cash = 0, 0.0, 0.0, 0.0, 0.0
    for i, k in zip(idx.tolist(), kind.tolist(), strict=True):
        j = i + offset
        if j >= n:
            break
        if k > 0 and not is_open:
            price = float(fill_px[j]) * (1.0 + slip)
            size = buy_size_f(cash, price, fee, fixed)
            if size is None:
                continue
            e_fee = size * price * fee
            cash -= size * price + e_fee
            e_bar, e_px, e_size, e_cash, is_open = j, price, size, cash, True
        elif k < 0 and is_open:
            price = float(fill_px[j]) * (1.0 - slip)
            x_fee = e_size * price * fee
            cash += e_size * price - x_fee
            pnl = e_size * (price - e_px) - e_fee - x_fee
            rows.append((e_bar, j, j, e_px, price, e_size, e_fee + x_fee, pnl, e_cash, cash, False))
            is_open = False
    if is_open:
        price = float(bars.close[-1]) * (1.0 - slip)
        x_fee = e_size * price * fee
        cash += e_size * price - x_fee
        pnl = e_size * (price - e_px) - e_fee - x_fee
        rows.append((e_bar, n - 1, n, e_px, price, e_size, e_fee + x_fee, pnl, e_cash, cash, True))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 11

    def ints(i: int) -> IntArray:
        return np.array(cols[i], dtype=np.int64)

    def floats(i: int) -> FloatArray:
        return np.array(cols[i], dtype=np.float64)

    return TradeArrays(
        entry_bar=ints(0),
        exit_bar=ints(1),
        held_until=ints(2),
        entry_price=floats(3),
        exit_price=floats(4),
        size=floats(5),
        fees=floats(6),
        pnl=floats(7),
        cash_in=floats(8),
        cash_out=floats(9),
        end_of_data=np.array(cols[10], dtype=np.bool_),
    )


def equity_curve(bars: Bars, cfg: BacktestConfig, t: TradeArrays) -> tuple[FloatArray, BoolArray]:
    """Mark-to-market equity at every bar's close and whether a position was held at that close.

    The last point is after the end-of-data liquidation (if any), so it equals the final cash.
    """
    n = len(bars)
    bar = np.arange(n)
    k = np.searchsorted(t.entry_bar, bar, side="right") - 1
    has = k >= 0
    kk = np.where(has, k, 0)
    if t.entry_bar.size == 0:
        return np.full(n, float(cfg.capital)), np.zeros(n, dtype=np.bool_)
    held = has & (bar < t.held_until[kk])
    cash = np.where(held, t.cash_in[kk], np.where(has, t.cash_out[kk], float(cfg.capital)))
    equity = cash + np.where(held, t.size[kk] * bars.close, 0.0)
    if t.end_of_data.size and t.end_of_data[-1]:
        equity[-1] = t.cash_out[-1]
    return equity, held


def trades_frame(bars: Bars, t: TradeArrays) -> pl.DataFrame:
    """The float trades table written to files and printed as JSON."""
    return pl.DataFrame(
        {
            "entry_time": bars.time[t.entry_bar],
            "exit_time": bars.time[t.exit_bar],
            "entry_price": t.entry_price,
            "exit_price": t.exit_price,
            "size": t.size,
            "fees": t.fees,
            "pnl": t.pnl,
            "exit_reason": np.where(t.end_of_data, "end_of_data", "signal").astype(str),
        }
    ).cast(TRADE_SCHEMA)  # type: ignore[arg-type]


def equity_frame(bars: Bars, equity: FloatArray, held: BoolArray) -> pl.DataFrame:
    """The equity curve table: time, equity and whether a position was held at the close."""
    return pl.DataFrame({"time": bars.time, "equity": equity, "in_position": held}).with_columns(
        pl.col("time").cast(pl.Datetime("ns", "UTC"))
    )


def simulate(
    bars: Bars, cfg: BacktestConfig, short_ma: FloatArray | None = None, long_ma: FloatArray | None = None
) -> tuple[TradeArrays, FloatArray, BoolArray, Metrics]:
    """The whole run without building tables: trades, equity, held flags and metrics.

    Precomputed averages may be passed in; sweeps cache them and need only the metrics.
    """
    s = moving_average(bars.close, cfg.short, cfg.average) if short_ma is None else short_ma
    lg = moving_average(bars.close, cfg.long, cfg.average) if long_ma is None else long_ma
    idx, kind = crossings(s, lg, cfg.cross, bars.close)
    t = walk_events(bars, cfg, idx, kind)
    equity, held = equity_curve(bars, cfg, t)
    return t, equity, held, compute_metrics(bars.time, equity, held, t.pnl, float(cfg.capital))


def run_vectorised(
    bars: Bars, cfg: BacktestConfig, short_ma: FloatArray | None = None, long_ma: FloatArray | None = None
) -> BacktestResult:
    """Backtest MA crossover on `bars` with the vectorised engine."""
    t, equity, held, metrics = simulate(bars, cfg, short_ma, long_ma)
    return BacktestResult(
        engine="vectorised",
        config=cfg,
        trades=trades_frame(bars, t),
        equity=equity_frame(bars, equity, held),
        metrics=metrics,
    )
