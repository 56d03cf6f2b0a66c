"""Moving-average crossover on closed bars: golden cross buys when flat, death cross sells when long.

One bar per interval: a bar whose start time is not after the last accepted one is ignored. The
original appended "the latest candle" on every poll, so the same candle could be counted many times
and the averages drifted towards whatever price happened to be polled repeatedly.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.indicators import Ema, Sma, WindowState
from shared.messages.market import Candle
from shared.messages.strategy import MaCrossoverParams, SignalAction
from shared.strategies.types import Decision

TIE_TOLERANCE = 1e-9
"""Averages closer than this fraction of the price are equal. Running float sums leave ~1e-13 of
noise where two averages are truly equal (flat stretches on a tick grid); its sign must not decide a
trade. Far below any real difference (a 0.01 tick on a 100 price is 1e-4)."""


def _side(difference: float, price: float) -> int:
    """-1 short average below, +1 above, 0 a tie: a strict cross needs -1 → +1 (or +1 → -1)."""
    if abs(difference) <= TIE_TOLERANCE * price:
        return 0
    return 1 if difference > 0 else -1


class MaCrossoverSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to resume an instance exactly where it stopped."""

    short: WindowState
    long: WindowState
    prev_short: float | None
    prev_long: float | None
    last_start: int | None
    position_open: bool
    prev_close: float | None = None


class MaCrossover:
    """The pure MA crossover core. Feed it closed bars; it returns BUY, SELL or HOLD."""

    def __init__(self, params: MaCrossoverParams) -> None:
        self.params = params
        self._short: Sma | Ema
        self._long: Sma | Ema
        if params.average == "ema":
            self._short, self._long = Ema(params.short_window), Ema(params.long_window)
        else:
            self._short, self._long = Sma(params.short_window), Sma(params.long_window)
        self._prev_short: float | None = None
        self._prev_long: float | None = None
        self._last_start: int | None = None
        self._prev_close: float | None = None
        self.position_open = False

    def on_candle(self, candle: Candle) -> Decision:
        """Convenience for the service: a closed `Candle` is one bar."""
        return self.on_bar(candle.start, candle.close)

    def on_bar(self, start: int, close: Decimal) -> Decision:
        """Fold in the bar that started at `start` (epoch seconds) and decide.

        No signal until the long average exists *and* a previous pair of averages exists, so the
        first possible signal is on the bar after the long window filled (as the original). A cross
        is strict: the short average was below (above) the long one and now is above (below); a
        touch is not a cross (the original counted a previous tie, so flat data could flap).
        """
        if not close.is_finite() or close <= 0:
            return Decision(reason="bad_price")  # a NaN would poison the running sums for good
        if self._last_start is not None and start <= self._last_start:
            reason = "duplicate_bar" if start == self._last_start else "out_of_order_bar"
            return Decision(reason=reason)
        self._last_start = start
        short = self._short.update(float(close))
        long = self._long.update(float(close))
        prev_short, prev_long, prev_close = self._prev_short, self._prev_long, self._prev_close
        self._prev_short, self._prev_long, self._prev_close = short, long, float(close)
        if short is None or long is None or prev_short is None or prev_long is None or prev_close is None:
            return Decision(reason="warming_up")
        value = short - long
        before = _side(prev_short - prev_long, prev_close)
        now = _side(value, float(close))
        if self.params.cross == "touch":  # a previous tie counts as the other side
            before = before or (-1 if now > 0 else 1)
        if not self.position_open and before < 0 < now:
            self.position_open = True
            return Decision(action=SignalAction.BUY, value=value, reason="golden_cross")
        if self.position_open and before > 0 > now:
            self.position_open = False
            return Decision(action=SignalAction.SELL, value=value, reason="death_cross")
        return Decision(value=value, reason="no_cross")

    def set_position(self, open_: bool) -> None:
        """Correct the position flag from fills or reconciliation (e.g. an entry order was rejected)."""
        self.position_open = open_

    def snapshot(self) -> MaCrossoverSnapshot:
        """Export the state for the KV snapshot bucket."""
        return MaCrossoverSnapshot(
            short=self._short.snapshot(),
            long=self._long.snapshot(),
            prev_short=self._prev_short,
            prev_long=self._prev_long,
            last_start=self._last_start,
            position_open=self.position_open,
            prev_close=self._prev_close,
        )

    @classmethod
    def restore(cls, params: MaCrossoverParams, snap: MaCrossoverSnapshot) -> MaCrossover:
        """Rebuild an instance from `params` and a snapshot taken with the same params."""
        core = cls(params)
        core._short.restore(snap.short)
        core._long.restore(snap.long)
        core._prev_short, core._prev_long = snap.prev_short, snap.prev_long
        core._last_start, core.position_open = snap.last_start, snap.position_open
        core._prev_close = snap.prev_close
        return core
