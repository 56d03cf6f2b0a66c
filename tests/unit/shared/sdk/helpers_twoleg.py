"""A two-leg strategy that is neither pairs nor basis, for the tests of the dual-leg SDK helper."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from shared.messages import ProductInfo
from shared.sdk import Context, Decision, Direction, SignalAction, TwoLegParams, TwoLegStrategy

A, B = "A-USD", "B-USD"


class RatioParams(TwoLegParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Two products, the window of the ratio's mean and the band around it."""

    leg1: str = A
    leg2: str = B
    window: int = 4
    band: float = 0.05


class RatioReversion(TwoLegStrategy[RatioParams]):
    """Long leg 1 / short leg 2 when p1/p2 falls `band` below its recent mean (short when above);
    out when it is back within the band."""

    def __init__(self, params: RatioParams) -> None:
        super().__init__(params)
        self.ratios: deque[float] = deque(maxlen=params.window)
        self.seen = 0

    def legs(self) -> tuple[str, str]:
        return self.params.leg1, self.params.leg2

    def signal(self, p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
        ratio = float(p1 / p2)
        full = len(self.ratios) == self.params.window
        mean = sum(self.ratios) / len(self.ratios) if self.ratios else ratio
        self.ratios.append(ratio)
        self.seen += 1
        if not full:
            return Decision(reason="window_filling")
        dev = ratio / mean - 1
        band = self.params.band
        if held is None and dev < -band:
            ctx.log("ratio_low", dev=dev, position=ctx.position(self.params.leg1))
            return Decision(action=SignalAction.ENTER_LONG, value=dev, reason="ratio_low")
        if held is None and dev > band:
            return Decision(action=SignalAction.ENTER_SHORT, value=dev, reason="ratio_high")
        if held is not None and abs(dev) < band:
            return Decision(action=SignalAction.EXIT, value=dev, reason="ratio_back")
        return Decision(value=dev, reason="hold")


def ratio_params(**kw: object) -> RatioParams:
    """Notional 1000, no cooldowns, a PnL gate that lets any exit through."""
    base: dict[str, object] = {
        "notional": Decimal(1000),
        "entry_cooldown_ms": 0,
        "exit_cooldown_ms": 0,
        "min_profit_bps": Decimal(-1000),
    }
    base.update(kw)
    return RatioParams(**base)  # type: ignore[arg-type]


def product(product_id: str, base_increment: str = "0.001", contract_size: str = "1") -> ProductInfo:
    """Trading rules of one leg."""
    return ProductInfo(
        venue="coinbase",
        product_id=product_id,
        base_increment=Decimal(base_increment),
        price_increment=Decimal("0.01"),
        contract_size=Decimal(contract_size),
    )


INFOS = (product(A), product(B))
