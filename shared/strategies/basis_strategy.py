"""The built-in spot-vs-future basis strategy on the public API: `BasisCore` as a `TwoLegStrategy`.

Leg 1 is spot, leg 2 the future, hedged in base quantity (whole contracts). Net basis is priced
with the venue's current fee tier: the core takes `ctx.costs` whenever they change. It keeps no
history, so it needs no warm-up.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from shared.messages.strategy import BasisParams
from shared.sdk.api import Context, Data, TwoLegStrategy
from shared.strategies.basis import BasisCore
from shared.strategies.types import ZERO_COSTS, Decision, Direction


class BasisStrategy(TwoLegStrategy[BasisParams]):
    """Cash-and-carry (and, with `allow_reverse`, reverse carry) on the net basis."""

    hedge: ClassVar[Literal["notional", "base"]] = "base"

    def __init__(self, params: BasisParams) -> None:
        super().__init__(params)
        self.core = BasisCore(params, ZERO_COSTS)

    def legs(self) -> tuple[str, str]:
        return self.params.spot_id, self.params.future_id

    def data(self) -> Data:
        return Data(ticks=True)

    def signal(self, p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
        if ctx.costs != self.core.costs:
            self.core.set_costs(ctx.costs)
        return self.core.update(p1, p2, held)
