"""Bars built by hand for the backtest tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shared.backtest.types import Bars

MIN = 60_000_000_000
T0 = 1_735_689_600_000_000_000  # 2025-01-01T00:00:00Z

# short=2 / long=4 SMA: golden cross on bar 7 (diff -0.5 -> +1), death cross on bar 11 (1.5 -> -1).
CLOSES = [10, 9, 8, 7, 6, 5, 6, 9, 12, 14, 13, 9, 5, 4, 3]


def make_bars(closes: Sequence[float], opens: dict[int, float] | None = None) -> Bars:
    """Bars one minute apart; each opens at the previous close unless `opens` says otherwise."""
    close = np.array(closes, dtype=np.float64)
    open_ = np.concatenate([[close[0]], close[:-1]])
    for i, px in (opens or {}).items():
        open_[i] = px
    return Bars(
        time=T0 + np.arange(len(closes), dtype=np.int64) * MIN,
        open=open_,
        high=np.maximum(open_, close),
        low=np.minimum(open_, close),
        close=close,
    )
