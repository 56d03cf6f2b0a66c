"""The built-in pairs strategy on the public API: `PairsCore` as a `TwoLegStrategy`.

Legs are hedged in notional at the core's hedge ratio (the decision's `hedge_ratio`). Its warm-up is
one-minute closes of both legs, enough to fill the hedge window and then the z-score window: the
windows count ticks, so the coarser series is only a start, replaced tick by tick as they roll.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from shared.messages.strategy import PairsParams
from shared.sdk.api import Context, Data, TwoLegStrategy
from shared.strategies.pairs import PairsCore
from shared.strategies.types import Decision, Direction

WARMUP_INTERVAL_S = 60


class PairsStrategy(TwoLegStrategy[PairsParams]):
    """Log-spread z-score stat-arb between `leg1_id` and `leg2_id`."""

    hedge: ClassVar[Literal["notional", "base"]] = "notional"

    def __init__(self, params: PairsParams) -> None:
        super().__init__(params)
        self.core = PairsCore(params)

    def legs(self) -> tuple[str, str]:
        return self.params.leg1_id, self.params.leg2_id

    def data(self) -> Data:
        p = self.params
        bars = max(p.window, p.hedge_window) + p.window + 2
        return Data(ticks=True, warmup_bars=bars, warmup_interval_s=WARMUP_INTERVAL_S)

    def signal(self, p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
        return self.core.update(p1, p2, held)
