"""The strategy benchmark's plug-in: a rolling mean of every tick's mid, and a rare limit order.

Typical of a user's tick strategy: Decimal arithmetic on every tick, a look at the position and
the open orders, and a post-only bid on the price grid when the mid dips `band_bps` below the
rolling mean while flat (the benchmark sends no fills, so each instance orders at most once and
then only watches). The benchmark loads it by file reference through the real loader, as
`algopioneer start` does; nothing imports it as a module.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from shared.sdk import Context, Params, Side, Strategy, Tick

BPS = Decimal("0.0001")


class DipParams(Params, frozen=True, kw_only=True):
    product_id: str
    window: int = 50
    """Ticks in the rolling mean."""
    band_bps: Decimal = Decimal("40")
    """How far below the mean the mid must dip to bid."""
    order_size: Decimal = Decimal("0.001")

    def __post_init__(self) -> None:
        if self.window < 2 or self.band_bps <= 0 or self.order_size <= 0:
            raise ValueError("window must be at least 2, band_bps and order_size positive")


class DipBuyer(Strategy[DipParams]):
    def __init__(self, params: DipParams) -> None:
        super().__init__(params)
        self.mids: deque[Decimal] = deque(maxlen=params.window)
        self.total = Decimal(0)
        self.ticks = 0
        """Ticks seen (the benchmark checks that every delivered tick reached the strategy)."""

    def on_tick(self, tick: Tick, ctx: Context) -> None:
        self.ticks += 1
        mid = tick.mid
        mids = self.mids
        if len(mids) == mids.maxlen:
            self.total -= mids[0]
        mids.append(mid)
        self.total += mid
        if len(mids) < self.params.window:
            return
        product = self.params.product_id
        if ctx.position(product) or ctx.open_orders(product):
            return
        mean = self.total / len(mids)
        if mid < mean * (1 - self.params.band_bps * BPS):
            bid = ctx.round_price(product, tick.bid, Side.BUY)
            ctx.buy(product, self.params.order_size, limit=bid, post_only=True, tag="dip")
