"""Pure conversions between the venue core's orders and fills and bus messages, the paper fee tier, and
the slippage model."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from services.execution.coinbase.parse import order_configuration
from services.execution.config import PaperSettings
from shared.messages import BookLevel, FeeRates, Fill, Order, OrderStatus
from shared.money import ZERO, round_to_increment
from shared.venue import CoinbaseOrderStatus, OrderRequest, fee_rates, parse_order_request
from shared.venue import Fill as VenueFill
from shared.venue import Order as VenueOrder

BPS = Decimal(10_000)


def paper_fees(settings: PaperSettings) -> FeeRates:
    """Coinbase's tiers by default (US Intro spot), overridable per setting."""
    return fee_rates(
        spot=("Paper spot", settings.maker_fee_rate, settings.taker_fee_rate),
        futures=("Paper futures", settings.futures_maker_fee_rate, settings.futures_taker_fee_rate),
    )


def widen(
    levels: Iterable[BookLevel], *, bids: bool, slippage_bps: Decimal, increment: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """Book levels as venue liquidity, moved `slippage_bps` away from the mid (bids down, asks up),
    kept on the price grid; empty levels dropped."""
    out: list[tuple[Decimal, Decimal]] = []
    for level in levels:
        if level.size <= ZERO or level.price <= ZERO:
            continue
        price = level.price
        if slippage_bps > ZERO:
            factor = (BPS - slippage_bps) / BPS if bids else (BPS + slippage_bps) / BPS
            price = round_to_increment(price * factor, increment, mode="down" if bids else "up")
        out.append((price, level.size))
    return out


def status_of(order: VenueOrder, filled: Decimal) -> OrderStatus:
    """Our lifecycle status of a venue-core order."""
    if order.status is CoinbaseOrderStatus.FILLED:
        return OrderStatus.FILLED
    if order.status is CoinbaseOrderStatus.CANCELLED:
        return OrderStatus.CANCELLED
    if order.status is CoinbaseOrderStatus.EXPIRED:
        return OrderStatus.EXPIRED
    if order.status is CoinbaseOrderStatus.FAILED:
        return OrderStatus.REJECTED
    return OrderStatus.PARTIALLY_FILLED if filled > ZERO else OrderStatus.ACCEPTED


def to_fill(fill: VenueFill, order: Order, venue_order_id: str) -> Fill:
    """One side of a venue-core trade as the bus `Fill` (commission in quote currency)."""
    return Fill(
        trade_id=fill.trade_id,
        client_order_id=order.client_order_id,
        venue_order_id=venue_order_id,
        strategy_id=order.strategy_id,
        venue=order.venue,
        product_id=fill.product_id,
        side=order.side,
        price=fill.price,
        size=fill.size,
        fee=fill.commission,
        liquidity=fill.liquidity,
        fill_ns=fill.time_ns,
    )


def to_request(order: Order, account_id: str) -> OrderRequest:
    """The venue-core request for `order`, built from the very `order_configuration` the live adapter
    sends, so paper parses, validates and rejects exactly like the simulator does."""
    body = {
        "client_order_id": order.client_order_id,
        "product_id": order.product_id,
        "side": order.side.value,
        "order_configuration": order_configuration(order),
    }
    return parse_order_request(body, account_id=account_id)
