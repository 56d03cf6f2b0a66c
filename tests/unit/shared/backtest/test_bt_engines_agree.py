"""The vectorised engine and the event-driven engine (the live core) give the same trades."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from shared.backtest import BacktestConfig, run_event_driven, run_vectorised, synthetic_bars
from shared.backtest.adapter import make_core
from shared.backtest.types import Bars
from shared.strategies import MaCrossover

CASES = [
    {"short": 10, "long": 20},
    {"short": 5, "long": 30, "fill": "close", "fee_bps": D(20)},
    {"short": 3, "long": 8, "fee_bps": D(10), "slippage_bps": D(5)},
    {"short": 8, "long": 21, "average": "ema", "fee_bps": D(6)},
    {"short": 10, "long": 40, "cross": "touch", "fill": "close"},
    {"short": 5, "long": 15, "size": D(45), "fee_bps": D(25)},  # fixed size: later entries refused
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_same_trades_and_equity(seed: int, case: dict[str, object]) -> None:
    bars = synthetic_bars(3_000, seed=seed, vol=0.004)
    cfg = BacktestConfig(capital=D(5000), **case)  # type: ignore[arg-type]
    ev, vec = run_event_driven(bars, cfg), run_vectorised(bars, cfg)
    assert ev.trades.height > 10
    assert_frame_equal(vec.trades, ev.trades, rel_tol=1e-9, abs_tol=1e-9)
    assert_frame_equal(vec.equity, ev.equity, rel_tol=1e-9)
    assert vec.metrics.num_trades == ev.metrics.num_trades
    assert vec.metrics.sharpe == pytest.approx(ev.metrics.sharpe, rel=1e-6)


def test_ties_on_flat_stretches_agree() -> None:
    """Integer prices with flat runs give exact ties; both engines and both tie rules agree."""
    rng = np.random.default_rng(4)
    closes = np.repeat(rng.integers(95, 106, size=300), rng.integers(1, 6, size=300)).astype(float)
    n = closes.size
    bars = Bars(
        time=np.arange(n, dtype=np.int64) * 60_000_000_000,
        open=np.concatenate([[closes[0]], closes[:-1]]),
        high=closes,
        low=closes,
        close=closes,
    )
    counts = {}
    for cross in ("strict", "touch"):
        cfg = BacktestConfig(short=3, long=9, cross=cross)
        ev, vec = run_event_driven(bars, cfg), run_vectorised(bars, cfg)
        assert_frame_equal(vec.trades, ev.trades, rel_tol=1e-9)
        counts[cross] = ev.metrics.num_trades
    assert counts["strict"] != counts["touch"]  # the data really has ties that matter


def test_event_engine_runs_the_shared_live_core() -> None:
    assert isinstance(make_core(BacktestConfig()), MaCrossover)


def test_event_engine_accepts_any_core_with_the_same_interface() -> None:
    """The seam: a recording wrapper around the live core sees every bar once, in order."""
    seen: list[int] = []
    inner = make_core(BacktestConfig(short=2, long=4))

    class Recording:
        def on_bar(self, start: int, close: D) -> object:
            seen.append(start)
            return inner.on_bar(start, close)

        def set_position(self, open_: bool) -> None:
            inner.set_position(open_)

        def snapshot(self) -> object:
            return inner.snapshot()

    bars = synthetic_bars(50)
    run_event_driven(bars, BacktestConfig(short=2, long=4), core=Recording())  # type: ignore[arg-type]
    assert seen == bars.time.tolist()


def _tick_grid_bars(seed: int) -> Bars:
    """Prices on a 0.01 grid with flat runs: exact ties that float running sums blur by ~1e-13."""
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(-3, 4, size=400)) * 0.01
    closes = np.round(np.repeat(100 + steps, rng.integers(1, 8, size=400)), 2)
    return Bars(
        time=np.arange(closes.size, dtype=np.int64) * 60_000_000_000,
        open=closes,
        high=closes,
        low=closes,
        close=closes,
    )


def _exact_signals(closes: list[float], short: int, long: int, strict: bool) -> list[int]:
    """The crossover rule in exact rational arithmetic: the bars where a position opens or closes."""
    px = [Fraction(repr(c)) for c in closes]
    diff = [
        sum(px[i - short + 1 : i + 1]) / short - sum(px[i - long + 1 : i + 1]) / long
        if i >= long - 1
        else None
        for i in range(len(px))
    ]
    out, open_ = [], False
    for i in range(long, len(px)):
        prev, cur = diff[i - 1], diff[i]
        assert prev is not None
        assert cur is not None
        below = prev < 0 if strict else prev <= 0
        above = prev > 0 if strict else prev >= 0
        if not open_ and below and cur > 0:
            out.append(i)
            open_ = True
        elif open_ and above and cur < 0:
            out.append(i)
            open_ = False
    return out


def _signal_bars(bars: Bars, trades: pl.DataFrame) -> list[int]:
    index = {t: i for i, t in enumerate(bars.time.tolist())}
    out = []
    for row in trades.with_columns(pl.col("entry_time", "exit_time").dt.epoch("ns")).iter_rows(named=True):
        out.append(index[row["entry_time"]])
        if row["exit_reason"] == "signal":
            out.append(index[row["exit_time"]])
    return out


@pytest.mark.parametrize("seed", range(5))
def test_strict_mode_is_exact_on_tick_grid_prices(seed: int) -> None:
    """Both engines give the trades of exact arithmetic, although the live core's own running sums
    turn some exact ties into ±1e-13 (see TIE_TOLERANCE)."""
    bars = _tick_grid_bars(seed)
    cfg = BacktestConfig(short=5, long=20, fill="close")
    expected = _exact_signals(bars.close.tolist(), 5, 20, strict=True)
    ev, vec = run_event_driven(bars, cfg), run_vectorised(bars, cfg)
    assert_frame_equal(vec.trades, ev.trades, rel_tol=1e-9)
    got = _signal_bars(bars, ev.trades)
    assert got == expected[: len(got)]
    assert len(expected) - len(got) <= 1  # a final open position is closed as end_of_data


def test_touch_mode_vectorised_is_exact_on_tick_grid_prices() -> None:
    """In touch mode the event engine is the live core verbatim (float noise at exact ties
    included); the vectorised engine follows exact arithmetic."""
    bars = _tick_grid_bars(0)
    cfg = BacktestConfig(short=5, long=20, fill="close", cross="touch")
    expected = _exact_signals(bars.close.tolist(), 5, 20, strict=False)
    got = _signal_bars(bars, run_vectorised(bars, cfg).trades)
    assert got == expected[: len(got)]
