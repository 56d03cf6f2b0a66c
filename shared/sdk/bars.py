"""Bars built from ticks on exchange time, so the same ticks always make the same bars (live, on
paper and when replayed). A bar closes when the first tick of a later bucket arrives, as the
backtester cuts them; a bucket without ticks makes no bar.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.money import ZERO
from shared.sdk.api import Bar, Tick

NS = 1_000_000_000


class BarState(msgspec.Struct, kw_only=True):
    """The bar being built from one product's ticks (kept in the snapshot)."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    def closed(self, product_id: str, interval_s: int) -> Bar:
        """The finished bar (ticks carry no traded volume)."""
        return Bar(
            product_id=product_id,
            start=self.start,
            interval_s=interval_s,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=ZERO,
        )


def price_of(tick: Tick) -> Decimal:
    """The price a tick stands for: its last trade, else its mid."""
    last = tick.last
    return last if last.is_finite() and last > ZERO else tick.mid


def fold_tick(bars: dict[str, BarState], tick: Tick, interval_s: int, price: Decimal) -> Bar | None:
    """Fold one tick (standing for `price`) into its product's bar; the bar it closed, else
    None. A tick older than the bar being built is ignored. On every tick: kept lean."""
    start = tick.ts_ns // NS // interval_s * interval_s
    bar = bars.get(tick.product_id)
    if bar is None or start > bar.start:
        bars[tick.product_id] = BarState(start=start, open=price, high=price, low=price, close=price)
        return bar.closed(tick.product_id, interval_s) if bar is not None else None
    if start == bar.start:
        bar.close = price
        if price > bar.high:
            bar.high = price
        elif price < bar.low:
            bar.low = price
    return None
