"""The built-in MA crossover on the public API: `MaCrossover` fed closed bars.

BUY opens `order_size`; SELL closes the position held according to fills. The core's position flag
follows the fills whenever an order ends (a rejected or refused entry must not leave it believing
it is long) and whenever an order cannot be sent at all. Warm-up is `long_window + 2` candles of
the bar interval when the venue has that granularity (otherwise it warms up on live bars).
"""

from __future__ import annotations

from shared.messages.strategy import MaCrossoverParams, SignalAction
from shared.sdk.api import Bar, Context, Data, FillView, OrderView, Strategy
from shared.strategies.ma_crossover import MaCrossover

CANDLE_GRANULARITIES = (60, 300, 900, 1800, 3600, 7200, 21600, 86400)
"""Bar intervals the venue serves candles for (the warm-up's source)."""


class MaCrossoverStrategy(Strategy[MaCrossoverParams]):
    """Golden cross buys when flat, death cross sells what is held."""

    def __init__(self, params: MaCrossoverParams) -> None:
        super().__init__(params)
        self.core = MaCrossover(params)

    def data(self) -> Data:
        p = self.params
        warm = p.long_window + 2 if p.interval_s in CANDLE_GRANULARITIES else 0
        return Data(bars_s=p.interval_s, warmup_bars=warm)

    def on_start(self, ctx: Context) -> None:
        self._follow(ctx)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        decision = self.core.on_bar(bar.start, bar.close)
        ctx.signal(decision.action, value=decision.value, reason=decision.reason)
        product = self.params.product_id
        if decision.action is SignalAction.BUY:
            sent = ctx.buy(product, self.params.order_size, tag=decision.reason)
        elif decision.action is SignalAction.SELL:
            sent = ctx.close(product, tag=decision.reason) if ctx.position(product) > 0 else None
        else:
            return
        if sent is None:  # refused or below the minimum: the flag follows the fills
            self._follow(ctx)

    def on_fill(self, fill: FillView, ctx: Context) -> None:
        if not ctx.open_orders(self.params.product_id):  # a fill that trails its order's end
            self._follow(ctx)

    def on_order(self, order: OrderView, ctx: Context) -> None:
        if order.state.is_terminal:
            self._follow(ctx)

    def _follow(self, ctx: Context) -> None:
        """The core's flag follows the position from fills."""
        self.core.set_position(ctx.position(self.params.product_id) > 0)
