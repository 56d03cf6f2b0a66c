"""Incremental indicators for the strategy cores: O(1) per update, snapshot-able, float only.

Floats are fine here: these feed signal math (crossovers, z-scores, hedge ratios), never money.
Running sums drift as values enter and leave a window, so every windowed indicator recomputes its
state exactly from the window every `recompute_every` updates; that bounds the drift while keeping
the amortised cost O(1) (the default period is at least the window length).

Every indicator exports its full internal state (including the running sums and the recompute
counter) so that restore-then-continue is bit-for-bit the same as never having stopped.
"""

from __future__ import annotations

import math
from collections import deque

import msgspec


class WindowState(msgspec.Struct, frozen=True, kw_only=True):
    """A windowed indicator's state: the window (oldest first), its running moments, the counter."""

    xs: list[float]
    ys: list[float] = []
    mean_x: float = 0.0
    mean_y: float = 0.0
    m2_x: float = 0.0
    c_xy: float = 0.0
    since_recompute: int = 0


def _period(window: int, recompute_every: int | None) -> int:
    if window < 1:
        raise ValueError("window must be at least 1")
    period = max(window, 64) if recompute_every is None else recompute_every
    if period < 1:
        raise ValueError("recompute_every must be at least 1")
    return period


class Sma:
    """Simple moving average over the last `window` values; None until the window is full."""

    def __init__(self, window: int, recompute_every: int | None = None) -> None:
        self.window = window
        self._period = _period(window, recompute_every)
        self._xs: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._since = 0

    def update(self, x: float) -> float | None:
        """Add one value and return the average (None while warming up)."""
        if len(self._xs) == self.window:
            self._sum -= self._xs[0]
        self._xs.append(x)
        self._sum += x
        self._since += 1
        if self._since >= self._period:
            self._sum = math.fsum(self._xs)
            self._since = 0
        return self.value

    @property
    def value(self) -> float | None:
        """The current average, or None before `window` values were seen."""
        return self._sum / self.window if len(self._xs) == self.window else None

    def snapshot(self) -> WindowState:
        """Full state; see the module docstring."""
        return WindowState(xs=list(self._xs), mean_x=self._sum, since_recompute=self._since)

    def restore(self, state: WindowState) -> None:
        """Load a state produced by `snapshot` of an SMA with the same window."""
        self._xs = deque(state.xs, maxlen=self.window)
        self._sum = state.mean_x
        self._since = state.since_recompute


class Ema:
    """Exponential moving average with alpha = 2 / (window + 1), seeded with the first value.

    This is pandas' `ewm(span=window, adjust=False)`, which is what `ta` uses; like `ta` it reports
    nothing until `window` values were seen. No drift to bound: it keeps no window.
    """

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self._alpha = 2.0 / (window + 1)
        self._value = 0.0
        self._count = 0

    def update(self, x: float) -> float | None:
        """Add one value and return the average (None while warming up)."""
        if self._count == 0:
            self._value = x
        else:
            self._value += self._alpha * (x - self._value)
        self._count += 1
        return self.value

    @property
    def value(self) -> float | None:
        """The current average, or None before `window` values were seen."""
        return self._value if self._count >= self.window else None

    def snapshot(self) -> WindowState:
        """Full state; the count travels in `since_recompute`."""
        return WindowState(xs=[], mean_x=self._value, since_recompute=self._count)

    def restore(self, state: WindowState) -> None:
        """Load a state produced by `snapshot`."""
        self._value = state.mean_x
        self._count = state.since_recompute


class RollingStats:
    """Rolling mean and standard deviation (population, ddof=0, as the original) of a window.

    Uses the sliding form of Welford's update, which is far less prone to cancellation than
    sum / sum-of-squares when the values sit far from zero relative to their spread (log prices).
    """

    def __init__(self, window: int, recompute_every: int | None = None) -> None:
        self.window = window
        self._period = _period(window, recompute_every)
        self._xs: deque[float] = deque(maxlen=window)
        self._mean = 0.0
        self._m2 = 0.0
        self._since = 0

    @property
    def full(self) -> bool:
        """True once `window` values were seen; before that the stats are partial."""
        return len(self._xs) == self.window

    def update(self, x: float) -> None:
        """Add one value, evicting the oldest once the window is full."""
        xs = self._xs
        if len(xs) == self.window:
            old = xs[0]
            xs.append(x)
            n = self.window
            delta = x - old
            new_mean = self._mean + delta / n
            self._m2 += delta * (x - new_mean + old - self._mean)
            self._mean = new_mean
        else:
            xs.append(x)
            delta = x - self._mean
            self._mean += delta / len(xs)
            self._m2 += delta * (x - self._mean)
        self._since += 1
        if self._since >= self._period:
            self._recompute()

    def _recompute(self) -> None:
        n = len(self._xs)
        self._mean = math.fsum(self._xs) / n if n else 0.0
        self._m2 = math.fsum((v - self._mean) ** 2 for v in self._xs)
        self._since = 0

    @property
    def mean(self) -> float:
        """Mean of the values in the window."""
        return self._mean

    @property
    def std(self) -> float:
        """Population standard deviation of the window (0 for an empty or constant window)."""
        n = len(self._xs)
        return math.sqrt(self._m2 / n) if n and self._m2 > 0.0 else 0.0

    def snapshot(self) -> WindowState:
        """Full state; see the module docstring."""
        return WindowState(xs=list(self._xs), mean_x=self._mean, m2_x=self._m2, since_recompute=self._since)

    def restore(self, state: WindowState) -> None:
        """Load a state produced by `snapshot` of a RollingStats with the same window."""
        self._xs = deque(state.xs, maxlen=self.window)
        self._mean, self._m2, self._since = state.mean_x, state.m2_x, state.since_recompute


class RollingOls:
    """Rolling least-squares slope (with intercept) of y on x over the last `window` pairs.

    For pairs this is the hedge ratio: beta of log p1 (y) on log p2 (x). `beta` is None until the
    window is full or when x barely moves in the window (the slope is then not identified).
    """

    def __init__(self, window: int, recompute_every: int | None = None) -> None:
        if window < 2:
            raise ValueError("window must be at least 2")
        self.window = window
        self._period = _period(window, recompute_every)
        self._xs: deque[float] = deque(maxlen=window)
        self._ys: deque[float] = deque(maxlen=window)
        self._mx = self._my = self._m2x = self._cxy = 0.0
        self._since = 0

    def _add(self, x: float, y: float) -> None:
        n = len(self._xs)
        dx = x - self._mx
        self._mx += dx / n
        self._my += (y - self._my) / n
        self._cxy += dx * (y - self._my)
        self._m2x += dx * (x - self._mx)

    def _remove(self, x: float, y: float, n_after: int) -> None:
        old_mx = self._mx - (x - self._mx) / n_after
        old_my = self._my - (y - self._my) / n_after
        self._cxy -= (x - old_mx) * (y - self._my)
        self._m2x -= (x - old_mx) * (x - self._mx)
        self._mx, self._my = old_mx, old_my

    def update(self, x: float, y: float) -> None:
        """Add one (x, y) pair, evicting the oldest once the window is full."""
        if len(self._xs) == self.window:
            self._remove(self._xs[0], self._ys[0], self.window - 1)
        self._xs.append(x)
        self._ys.append(y)
        self._add(x, y)
        self._since += 1
        if self._since >= self._period:
            self._recompute()

    def _recompute(self) -> None:
        n = len(self._xs)
        self._mx = math.fsum(self._xs) / n
        self._my = math.fsum(self._ys) / n
        self._m2x = math.fsum((x - self._mx) ** 2 for x in self._xs)
        self._cxy = math.fsum(
            (x - self._mx) * (y - self._my) for x, y in zip(self._xs, self._ys, strict=True)
        )
        self._since = 0

    @property
    def ready(self) -> bool:
        """True once the window is full (beta may still be None if x did not move)."""
        return len(self._xs) == self.window

    @property
    def beta(self) -> float | None:
        """The slope, or None while warming up or when x is (numerically) constant."""
        n = len(self._xs)
        if n < self.window or self._m2x <= 1e-12 * n * max(1.0, self._mx * self._mx):
            return None
        return self._cxy / self._m2x

    def snapshot(self) -> WindowState:
        """Full state; see the module docstring."""
        return WindowState(
            xs=list(self._xs),
            ys=list(self._ys),
            mean_x=self._mx,
            mean_y=self._my,
            m2_x=self._m2x,
            c_xy=self._cxy,
            since_recompute=self._since,
        )

    def restore(self, state: WindowState) -> None:
        """Load a state produced by `snapshot` of a RollingOls with the same window."""
        self._xs = deque(state.xs, maxlen=self.window)
        self._ys = deque(state.ys, maxlen=self.window)
        self._mx, self._my = state.mean_x, state.mean_y
        self._m2x, self._cxy, self._since = state.m2_x, state.c_xy, state.since_recompute


class KalmanHedge:
    """A 1-D Kalman filter on the slope of y = beta·x (a random-walk beta), as the original's option.

    Tracks a drifting hedge ratio without a window. Process noise `q`, observation noise `r`; beta
    is clamped to [-10, 10] and reported only after `warmup` observations.
    """

    def __init__(self, q: float = 1e-5, r: float = 1e-3, warmup: int = 100, initial: float = 1.0) -> None:
        if q <= 0 or r <= 0:
            raise ValueError("q and r must be positive")
        self._q, self._r, self._warmup = q, r, warmup
        self._beta, self._p, self._count = initial, 1.0, 0

    def update(self, x: float, y: float) -> None:
        """Fold in one observation (x = log p2, y = log p1)."""
        p = self._p + self._q
        gain = p * x / (x * x * p + self._r)
        beta = self._beta + gain * (y - self._beta * x)
        if math.isfinite(beta):
            self._beta = min(10.0, max(-10.0, beta))
            self._p = (1.0 - gain * x) * p
        self._count += 1

    @property
    def ready(self) -> bool:
        """True once `warmup` observations were folded in."""
        return self._count >= self._warmup

    @property
    def beta(self) -> float | None:
        """The filtered slope, or None during warm-up."""
        return self._beta if self._count >= self._warmup else None

    def snapshot(self) -> WindowState:
        """Full state: beta in mean_x, variance in m2_x, count in since_recompute."""
        return WindowState(xs=[], mean_x=self._beta, m2_x=self._p, since_recompute=self._count)

    def restore(self, state: WindowState) -> None:
        """Load a state produced by `snapshot`."""
        self._beta, self._p, self._count = state.mean_x, state.m2_x, state.since_recompute
