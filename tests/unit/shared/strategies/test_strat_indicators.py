"""Indicator parity: SMA/EMA against `ta`, rolling stats and OLS against numpy; drift and snapshots."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from ta.trend import EMAIndicator, SMAIndicator

from shared.indicators import Ema, KalmanHedge, RollingOls, RollingStats, Sma


def _walk(n: int, seed: int, start: float = 100.0) -> list[float]:
    rng = random.Random(seed)
    out, p = [], start
    for _ in range(n):
        p *= math.exp(rng.gauss(0, 0.01))
        out.append(p)
    return out


def _compare(ours: list[float | None], theirs: pd.Series) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs.tolist(), strict=True):
        if b is None or (isinstance(b, float) and math.isnan(b)):
            assert a is None
        else:
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("window", [1, 5, 20, 50])
def test_sma_equals_ta(window: int) -> None:
    series = _walk(600, seed=window)
    sma = Sma(window, recompute_every=37)
    _compare([sma.update(x) for x in series], SMAIndicator(pd.Series(series), window).sma_indicator())


@pytest.mark.parametrize("window", [1, 5, 12, 26])
def test_ema_equals_ta(window: int) -> None:
    series = _walk(600, seed=100 + window)
    ema = Ema(window)
    _compare([ema.update(x) for x in series], EMAIndicator(pd.Series(series), window).ema_indicator())


@pytest.mark.parametrize("window", [5, 30, 200])
def test_rolling_stats_equal_numpy(window: int) -> None:
    series = [math.log(x) for x in _walk(1500, seed=window)]
    stats = RollingStats(window, recompute_every=97)
    for i, x in enumerate(series):
        stats.update(x)
        win = np.array(series[max(0, i - window + 1) : i + 1])
        assert stats.full == (i + 1 >= window)
        assert stats.mean == pytest.approx(float(win.mean()), rel=1e-12, abs=1e-12)
        assert stats.std == pytest.approx(float(win.std(ddof=0)), rel=1e-7, abs=1e-12)


def test_rolling_stats_drift_is_bounded_by_recompute() -> None:
    """Values far from zero with a tiny spread are the worst case for running moments."""
    rng = random.Random(7)
    series = [1e6 + rng.gauss(0, 1e-3) for _ in range(50_000)]
    stats = RollingStats(100)
    for x in series:
        stats.update(x)
    win = np.array(series[-100:])
    assert stats.std == pytest.approx(float(win.std()), rel=1e-6)


@pytest.mark.parametrize("window", [10, 60])
def test_rolling_ols_equals_numpy(window: int) -> None:
    xs = [math.log(x) for x in _walk(800, seed=window)]
    rng = random.Random(window)
    ys = [0.3 + 1.7 * x + rng.gauss(0, 0.002) for x in xs]
    ols = RollingOls(window, recompute_every=53)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ols.update(x, y)
        if i + 1 < window:
            assert ols.beta is None
            continue
        slope = np.polyfit(xs[i - window + 1 : i + 1], ys[i - window + 1 : i + 1], 1)[0]
        assert ols.beta == pytest.approx(float(slope), rel=1e-8)


def test_rolling_ols_is_none_when_x_is_constant() -> None:
    ols = RollingOls(5)
    for y in range(10):
        ols.update(4.6, float(y))
    assert ols.ready
    assert ols.beta is None


def test_kalman_tracks_the_slope() -> None:
    rng = random.Random(3)
    kf = KalmanHedge(q=1e-6, r=1e-4, warmup=50)
    for _ in range(2000):
        x = 4.0 + rng.gauss(0, 0.05)
        kf.update(x, 1.25 * x + rng.gauss(0, 0.001))
    assert kf.beta == pytest.approx(1.25, abs=0.01)


def test_kalman_reports_nothing_during_warmup() -> None:
    kf = KalmanHedge(warmup=3)
    kf.update(1.0, 1.0)
    kf.update(1.0, 1.0)
    assert kf.beta is None
    kf.update(1.0, 1.0)
    assert kf.beta is not None


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        Sma(0)
    with pytest.raises(ValueError, match="window"):
        RollingOls(1)
    with pytest.raises(ValueError, match="positive"):
        KalmanHedge(q=0)


@settings(max_examples=60, deadline=None)
@given(
    values=hs.lists(hs.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=120),
    cut=hs.integers(0, 120),
)
def test_restore_then_continue_equals_never_stopped(values: list[float], cut: int) -> None:
    cut = min(cut, len(values))
    whole = (Sma(7, recompute_every=5), Ema(7), RollingStats(7, recompute_every=5), RollingOls(7, 5))
    first = (Sma(7, recompute_every=5), Ema(7), RollingStats(7, recompute_every=5), RollingOls(7, 5))
    for v in values[:cut]:
        first[0].update(v)
        first[1].update(v)
        first[2].update(v)
        first[3].update(v, v * 0.5 + 1)
    resumed = (Sma(7, recompute_every=5), Ema(7), RollingStats(7, recompute_every=5), RollingOls(7, 5))
    for src, dst in zip(first, resumed, strict=True):
        dst.restore(src.snapshot())  # type: ignore[attr-defined]
    for v in values:
        whole[0].update(v)
        whole[1].update(v)
        whole[2].update(v)
        whole[3].update(v, v * 0.5 + 1)
    for v in values[cut:]:
        resumed[0].update(v)
        resumed[1].update(v)
        resumed[2].update(v)
        resumed[3].update(v, v * 0.5 + 1)
    assert whole[0].value == resumed[0].value
    assert whole[1].value == resumed[1].value
    assert (whole[2].mean, whole[2].std) == (resumed[2].mean, resumed[2].std)
    assert whole[3].beta == resumed[3].beta
