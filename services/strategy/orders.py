"""Order requests → `OrderIntent`s: rounded to the product's grid *before* sending, deterministic
client order ids, market IOC by default (the dual-leg machine prices nothing: it needs fills now).
A limit price must already be on the product's price grid: an off-grid one is refused here
(`price_off_grid`), never rounded after the strategy chose it.

An intent goes to the spec's order venue (its mode decides paper or live, never the market it
watches) and carries a placement deadline `order_ttl_ms` after the decision, so an intent sent
again after a restart is refused once its prices are old.
"""

from __future__ import annotations

from shared.messages import ProductInfo
from shared.messages.orders import OrderIntent, OrderType, TimeInForce, client_order_id
from shared.messages.strategy import StrategySpec
from shared.money import ZERO, round_to_increment
from shared.strategies import OrderRequest


def build_intent(
    spec: StrategySpec, product: str, info: ProductInfo, req: OrderRequest, now_ns: int
) -> OrderIntent | str:
    """The intent for one request, or the reason it cannot be sent."""
    size = round_to_increment(req.size, info.base_increment)
    limit = req.limit_price
    if limit is not None and (not limit.is_finite() or limit <= ZERO or limit % info.price_increment != ZERO):
        return "price_off_grid"
    reason = info.unsendable(size, limit if limit is not None else req.reference_price)
    if reason:
        return reason
    reference = None
    if req.reference_price.is_finite() and req.reference_price > ZERO:
        reference = round_to_increment(req.reference_price, info.price_increment, mode="nearest")
    return OrderIntent(
        client_order_id=client_order_id(spec.id, req.seq, req.leg),
        strategy_id=spec.id,
        intent_seq=req.seq,
        leg=req.leg,
        venue=spec.order_venue,
        product_id=product,
        side=req.side,
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        size=size,
        limit_price=limit,
        time_in_force=req.time_in_force if limit is not None else TimeInForce.IOC,
        post_only=req.post_only and limit is not None,
        purpose=req.purpose,
        reference_price=reference,
        created_ns=now_ns,
        expires_ns=now_ns + spec.order_ttl_ms * 1_000_000,
        reason=req.reason,
    )
