"""A market maker: one post-only bid and one post-only ask around the mid, on the product's price
grid, so every fill is a maker fill at the maker fee.

- Quotes sit `half_spread_bps` from the mid; a quote is replaced when the mid has moved so that it
  is more than `requote_bps` away from where it should be (fewer replaces, less message traffic).
- Inventory: no bid once long `max_inventory`, no ask once short `max_inventory`.
- A crossed or very wide market (spread above `max_spread_bps`) means the data is off or the
  market is dislocated: every quote is pulled until it looks normal again. (A locked one, bid =
  ask, is quoted around: it is how a backtest's one tick per bar looks.)
- Each fill is logged (price, size, fee, maker/taker).

    algopioneer backtest --strategy examples/strategies/maker_quotes.py:MakerQuotes --synthetic \\
        --param product_id=BTC-USD --param half_spread_bps=10 --maker-fee-bps 50
"""

from __future__ import annotations

from decimal import Decimal

from shared.sdk import Context, Data, FillView, Params, Side, Strategy, Tick

BPS = Decimal("0.0001")


class MakerParams(Params, frozen=True, kw_only=True):
    product_id: str = "BTC-USD"
    half_spread_bps: Decimal = Decimal("5")
    """Distance of each quote from the mid."""
    requote_bps: Decimal = Decimal("2")
    """Replace a quote once it is this far from its target price."""
    order_size: Decimal = Decimal("0.001")
    max_inventory: Decimal = Decimal("0.005")
    """Largest position either way, in base units."""
    max_spread_bps: Decimal = Decimal("50")
    """Pull the quotes while the market's spread is wider than this."""

    def __post_init__(self) -> None:
        if self.half_spread_bps <= 0 or self.requote_bps <= 0 or self.max_spread_bps <= 0:
            raise ValueError("half_spread_bps, requote_bps and max_spread_bps must be positive")
        if self.order_size <= 0 or self.max_inventory < self.order_size:
            raise ValueError("order_size must be positive and max_inventory at least order_size")


class MakerQuotes(Strategy[MakerParams]):
    def __init__(self, params: MakerParams) -> None:
        super().__init__(params)
        self.quotes: dict[Side, str] = {}
        """The live quote's order id per side (a replaced one may still be cancelling)."""

    def data(self) -> Data:
        return Data(ticks=True)

    def on_start(self, ctx: Context) -> None:
        # After a restart with new code or params the state is fresh: pull quotes it does not know.
        for order in ctx.open_orders(self.params.product_id):
            if order.id not in self.quotes.values():
                ctx.cancel(order.id)

    def on_tick(self, tick: Tick, ctx: Context) -> None:
        p = self.params
        spread = tick.ask - tick.bid
        if tick.bid <= 0 or spread < 0 or spread > tick.mid * p.max_spread_bps * BPS:
            if ctx.cancel_all(p.product_id):
                ctx.log("quotes_pulled", bid=str(tick.bid), ask=str(tick.ask))
            self.quotes.clear()
            return
        held = ctx.position(p.product_id)
        offset = tick.mid * p.half_spread_bps * BPS
        self._quote(ctx, Side.BUY, tick.mid - offset, held + p.order_size <= p.max_inventory)
        self._quote(ctx, Side.SELL, tick.mid + offset, held - p.order_size >= -p.max_inventory)

    def _quote(self, ctx: Context, side: Side, price: Decimal, allowed: bool) -> None:
        """Keep one quote on `side` near `price` (or none when not `allowed`)."""
        p = self.params
        current = ctx.order(self.quotes[side]) if side in self.quotes else None
        if current is not None and current.state.is_terminal:
            current = None  # filled, cancelled or rejected: quote afresh
        if not allowed:
            if current is not None:
                ctx.cancel(current.id)
            self.quotes.pop(side, None)
            return
        target = ctx.round_price(p.product_id, price, side)
        if current is None:
            send = ctx.buy if side is Side.BUY else ctx.sell
            tag = "quote-bid" if side is Side.BUY else "quote-ask"
            order = send(p.product_id, p.order_size, limit=target, post_only=True, tag=tag)
        elif abs((current.limit_price or target) - target) > price * p.requote_bps * BPS:
            order = ctx.replace(current.id, limit=target)
        else:
            return
        if order is None:
            self.quotes.pop(side, None)
        else:
            self.quotes[side] = order.id

    def on_fill(self, fill: FillView, ctx: Context) -> None:
        ctx.log(
            "quote_filled",
            side=fill.side.value,
            price=str(fill.price),
            size=str(fill.size),
            fee=str(fill.fee),
            liquidity=fill.liquidity.value,
            position=str(ctx.position(fill.product_id)),
        )
