"""Pure conversions between the venue core's objects and bus messages, plus the slippage model."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from services.execution.coinbase.parse import order_configuration
from services.execution.config import PaperSettings
from shared.messages import BookLevel, FeeRates, Fill, Order, OrderStatus, ProductInfo
from shared.money import ZERO, round_to_increment
from shared.venue import (
    CoinbaseOrderStatus,
    FeeSchedule,
    OrderRequest,
    Product,
    ProductType,
    parse_order_request,
)
from shared.venue import Fill as VenueFill
from shared.venue import Order as VenueOrder

BPS = Decimal(10_000)


def fee_schedule(settings: PaperSettings) -> FeeSchedule:
    """Coinbase's tiers by default (US Intro spot), overridable per setting."""
    return FeeSchedule.of_rates(
        spot=("Paper spot", settings.maker_fee_rate, settings.taker_fee_rate),
        futures=("Paper futures", settings.futures_maker_fee_rate, settings.futures_taker_fee_rate),
    )


def fee_rates(venue: str, schedule: FeeSchedule, now_ns: int) -> FeeRates:
    """The paper venue's fee tier as strategies read it from KV `fee_rates`."""
    return FeeRates(
        venue=venue,
        pricing_tier=schedule.spot.pricing_tier,
        spot_maker=schedule.spot.maker_fee_rate,
        spot_taker=schedule.spot.taker_fee_rate,
        futures_maker=schedule.futures.maker_fee_rate,
        futures_taker=schedule.futures.taker_fee_rate,
        fetched_ns=now_ns,
    )


def product_info(venue: str, product: Product) -> ProductInfo:
    """A venue-core product as the trading rules risk and strategies read from KV `products`."""
    return ProductInfo(
        venue=venue,
        product_id=product.product_id,
        base_increment=product.base_increment,
        price_increment=product.price_increment,
        base_min_size=product.base_min_size,
        min_notional=product.quote_min_size,
        contract_size=product.contract_size,
        is_future=product.product_type is ProductType.FUTURE,
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
