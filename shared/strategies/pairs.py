"""Pairs (statistical arbitrage) on the log-price spread, with z-score entry and exit both ways.

spread = ln p1 − β·ln p2, where β is the hedge ratio: a rolling OLS slope of ln p1 on ln p2 (the
default), a Kalman-filtered slope, or fixed at 1 (the original's only choice). β used on a tick is
estimated from the ticks *before* it, so a jump in p1 is not half-absorbed into the hedge ratio.
The z-score uses the rolling mean and population σ of the spread window including the current
value (as the original): z > entry → short the spread, z < −entry → long the spread, |z| < exit →
exit. The original could only trade the long side; here both sides trade.

Guards never raise: non-positive, NaN or infinite prices, a price ratio outside [1e-12, 1e12], a
non-finite spread or z, and a non-positive β all return HOLD with a stable reason code.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec

from shared.indicators import KalmanHedge, RollingOls, RollingStats, WindowState
from shared.messages.strategy import PairsParams, SignalAction
from shared.strategies.types import Decision, Direction

RATIO_MIN = 1e-12
RATIO_MAX = 1e12
# Within two orders of magnitude of a bound the ratio is accepted but counted (precision warning).
_WARN_FACTOR = 100.0


class PairsSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to resume an instance exactly where it stopped."""

    stats: WindowState
    hedge: WindowState | None
    last_beta: float
    precision_warnings: int = 0
    rejections: int = 0


class PairsCore:
    """The pure pairs core: feed it both legs' prices, get a `Decision` with z in `value`."""

    def __init__(self, params: PairsParams) -> None:
        self.params = params
        self._stats = RollingStats(params.window)
        self._hedge: RollingOls | KalmanHedge | None
        if params.hedge_ratio == "ols":
            self._hedge = RollingOls(params.hedge_window or params.window)
        elif params.hedge_ratio == "kalman":
            self._hedge = KalmanHedge(params.kalman_q, params.kalman_r, params.kalman_warmup)
        else:
            self._hedge = None
        self._last_beta = 1.0
        self.precision_warnings = 0
        self.rejections = 0

    def _reject(self, reason: str) -> Decision:
        self.rejections += 1
        return Decision(reason=reason)

    def update(self, p1: Decimal, p2: Decimal, held: Direction | None = None) -> Decision:
        """Fold in one synchronised pair of prices and decide. `held` is accepted for symmetry with
        the basis core; the z-score rule does not depend on it (the state machine filters)."""
        try:
            f1, f2 = float(p1), float(p2)
        except (ValueError, OverflowError):
            return self._reject("bad_price")
        if not (math.isfinite(f1) and math.isfinite(f2)) or f1 <= 0.0 or f2 <= 0.0:
            return self._reject("bad_price")
        ratio = f1 / f2
        if not (RATIO_MIN <= ratio <= RATIO_MAX):
            return self._reject("price_ratio_out_of_bounds")
        if ratio < RATIO_MIN * _WARN_FACTOR or ratio > RATIO_MAX / _WARN_FACTOR:
            self.precision_warnings += 1
        y, x = math.log(f1), math.log(f2)
        beta = self._beta_before(x, y)
        if beta is None:
            return Decision(reason="hedge_warming_up")
        spread = y - beta * x
        if not math.isfinite(spread):
            return self._reject("spread_not_finite")
        self._stats.update(spread)
        if not self._stats.full:
            return Decision(reason="window_warming_up", hedge_ratio=beta)
        std = self._stats.std
        z = 0.0 if std == 0.0 else (spread - self._stats.mean) / std
        if not math.isfinite(z):
            return self._reject("z_not_finite")
        return self._decide(z, beta)

    def _beta_before(self, x: float, y: float) -> float | None:
        """β from the ticks before this one, then fold this tick into the estimator."""
        hedge = self._hedge
        if hedge is None:
            return 1.0
        ready = hedge.ready
        beta = hedge.beta
        hedge.update(x, y)
        if not ready:
            return None
        if beta is not None and math.isfinite(beta) and beta > 0.0:
            self._last_beta = beta
        # A degenerate window (x did not move) or a non-positive slope keeps the last good β: a
        # negative β would put both legs on the same side, which is not a spread trade.
        return self._last_beta

    def _decide(self, z: float, beta: float) -> Decision:
        p = self.params
        if z > p.entry_z:
            return Decision(
                action=SignalAction.ENTER_SHORT, value=z, reason="z_above_entry", hedge_ratio=beta
            )
        if z < -p.entry_z:
            return Decision(action=SignalAction.ENTER_LONG, value=z, reason="z_below_entry", hedge_ratio=beta)
        if abs(z) < p.exit_z:
            return Decision(action=SignalAction.EXIT, value=z, reason="z_within_exit", hedge_ratio=beta)
        return Decision(value=z, reason="z_between", hedge_ratio=beta)

    def snapshot(self) -> PairsSnapshot:
        """Export the state for the KV snapshot bucket."""
        return PairsSnapshot(
            stats=self._stats.snapshot(),
            hedge=None if self._hedge is None else self._hedge.snapshot(),
            last_beta=self._last_beta,
            precision_warnings=self.precision_warnings,
            rejections=self.rejections,
        )

    @classmethod
    def restore(cls, params: PairsParams, snap: PairsSnapshot) -> PairsCore:
        """Rebuild from `params` and a snapshot taken with the same params."""
        core = cls(params)
        core._stats.restore(snap.stats)
        if core._hedge is not None and snap.hedge is not None:
            core._hedge.restore(snap.hedge)
        core._last_beta = snap.last_beta
        core.precision_warnings, core.rejections = snap.precision_warnings, snap.rejections
        return core
