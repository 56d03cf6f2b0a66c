"""Pure translations: our `Order` → a create-order body (checked, never rounded), venue JSON → domain.

The protocol-level parsing (venue decimals, RFC3339 times, venue order statuses) lives in
`shared.coinbase.parse` and is re-exported here (`dec`, `rfc3339_ns`, `to_rfc3339`) for the adapter.

Sizes and prices must already be on the product's increments (strategies round); an
off-grid value is rejected here with the code the venue itself would use, so paper and live report
the same reason. Futures sizes are whole contracts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.execution.coinbase import constants as c
from services.execution.errors import NonRetryableVenueError
from shared.coinbase.parse import dec as dec
from shared.coinbase.parse import order_status as venue_order_status
from shared.coinbase.parse import rfc3339_ns as rfc3339_ns
from shared.coinbase.parse import to_rfc3339 as to_rfc3339
from shared.coinbase.schemas import CreateOrderResponse, RestFeeTier, RestFill, RestOrder, RestProduct
from shared.errors import ConfigError, MoneyError, OrderRejectedError
from shared.messages import (
    FeeRates,
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    ProductInfo,
    Side,
    TimeInForce,
)
from shared.money import ZERO, is_on_grid


def fmt(value: Decimal) -> str:
    """A decimal as the venue expects it: plain notation, never an exponent."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def order_configuration(order: Order) -> dict[str, Any]:
    """The one `order_configuration` entry for `order`, or `OrderRejectedError`."""
    size = fmt(order.size)
    if order.order_type is OrderType.MARKET:
        if order.post_only:
            raise OrderRejectedError(c.UNSUPPORTED_ORDER_CONFIGURATION, "post_only applies to limit orders")
        key = "market_market_fok" if order.time_in_force is TimeInForce.FOK else "market_market_ioc"
        return {key: {"base_size": size}}
    if order.limit_price is None or order.limit_price <= ZERO:
        raise OrderRejectedError(c.INVALID_LIMIT_PRICE, "a limit order needs a positive limit_price")
    price = fmt(order.limit_price)
    tif = order.time_in_force
    if tif is TimeInForce.GTC:
        return {"limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": order.post_only}}
    if tif is TimeInForce.IOC:
        if order.post_only:
            raise OrderRejectedError(c.UNSUPPORTED_ORDER_CONFIGURATION, "post_only is not allowed with IOC")
        return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
    if tif is TimeInForce.FOK:
        if order.post_only:
            raise OrderRejectedError(c.POST_ONLY_NOT_ALLOWED_WITH_FOK, "post_only is not allowed with FOK")
        return {"limit_limit_fok": {"base_size": size, "limit_price": price}}
    raise OrderRejectedError(c.UNSUPPORTED_ORDER_CONFIGURATION, f"time in force {tif} needs an end time")


def check_grid(order: Order, product: ProductInfo | None) -> None:
    """Verify (never round) size and price against the product's increments and minimums."""
    if product is None:
        raise OrderRejectedError(c.INVALID_PRODUCT_ID, f"unknown product {order.product_id!r}")
    if order.size <= ZERO or not is_on_grid(order.size, product.base_increment):
        raise OrderRejectedError(
            c.INVALID_SIZE_PRECISION,
            f"size {fmt(order.size)} is not a positive multiple of {fmt(product.base_increment)}",
        )
    if order.size < product.base_min_size:
        raise OrderRejectedError(
            c.INVALID_REQUEST, f"size {fmt(order.size)} is below {fmt(product.base_min_size)}"
        )
    price = order.limit_price
    if order.order_type is OrderType.LIMIT and price is not None:
        if not is_on_grid(price, product.price_increment):
            raise OrderRejectedError(
                c.INVALID_PRICE_PRECISION,
                f"limit_price {fmt(price)} is not a multiple of {fmt(product.price_increment)}",
            )
        if product.notional(order.size, price) < product.min_notional:
            raise OrderRejectedError(c.INVALID_REQUEST, f"order value is below {fmt(product.min_notional)}")


def create_body(order: Order, product: ProductInfo | None) -> dict[str, Any]:
    """The `POST /orders` body, after the grid check; the `client_order_id` is the order's own."""
    check_grid(order, product)
    return {
        "client_order_id": order.client_order_id,
        "product_id": order.product_id,
        "side": order.side.value,
        "order_configuration": order_configuration(order),
    }


def reject_reason(response: CreateOrderResponse) -> str:
    """The most specific reason of a `success: false` answer: `new_order_failure_reason`, then
    `error`, then `preview_failure_reason`, then the legacy top-level `failure_reason`."""
    err = response.error_response
    candidates = (
        (err.new_order_failure_reason, err.error, err.preview_failure_reason) if err is not None else ()
    )
    for reason in (*candidates, response.failure_reason):
        if reason not in c.PLACEHOLDER_REASONS:
            return str(reason)
    return c.UNKNOWN_FAILURE_REASON


def order_status(raw: RestOrder, filled: Decimal) -> OrderStatus:
    """Our lifecycle status of a venue order, given how much of it we have seen filled."""
    return venue_order_status(raw.status, filled)


def matches(raw: RestOrder, order: Order) -> bool:
    """True when a venue order is the one we meant (same id, product and side), as Coinbase advises."""
    return (
        raw.client_order_id == order.client_order_id
        and raw.product_id == order.product_id
        and raw.side.upper() == order.side.value
    )


def to_fill(raw: RestFill, order: Order) -> Fill:
    """A venue fill of one of our orders, as the bus `Fill` (commission is in quote currency)."""
    liquidity = Liquidity.MAKER if raw.liquidity_indicator.upper() == "MAKER" else Liquidity.TAKER
    side = Side(raw.side.upper()) if raw.side.upper() in ("BUY", "SELL") else order.side
    return Fill(
        trade_id=raw.trade_id,
        client_order_id=order.client_order_id,
        venue_order_id=raw.order_id,
        strategy_id=order.strategy_id,
        venue=order.venue,
        product_id=raw.product_id or order.product_id,
        side=side,
        price=dec(raw.price, "price"),
        size=dec(raw.size, "size"),
        fee=dec(raw.commission, "commission"),
        liquidity=liquidity,
        fill_ns=rfc3339_ns(raw.trade_time) or rfc3339_ns(raw.sequence_timestamp),
    )


def product_info(venue: str, raw: RestProduct) -> ProductInfo | None:
    """Trading rules for KV `products`; None for a product with unusable increments."""
    try:
        contract = (
            dec(raw.future_product_details.contract_size, "contract_size")
            if raw.future_product_details is not None
            else Decimal(1)
        )
        return ProductInfo(
            venue=venue,
            product_id=raw.product_id,
            base_increment=dec(raw.base_increment, "base_increment"),
            price_increment=dec(raw.price_increment, "price_increment"),
            base_min_size=dec(raw.base_min_size, "base_min_size"),
            min_notional=dec(raw.quote_min_size, "quote_min_size"),
            contract_size=contract if contract > ZERO else Decimal(1),
            is_future=raw.product_type == "FUTURE",
        )
    except (MoneyError, ValueError, ConfigError):  # ProductInfo refuses a zero increment
        return None


def fee_rates(venue: str, spot: RestFeeTier, futures: RestFeeTier, now_ns: int) -> FeeRates:
    """The two tiers `GET /transaction_summary` reports; a missing or malformed rate is an error
    (a strategy must never price its trades with a made-up fee)."""
    try:
        return FeeRates(
            venue=venue,
            pricing_tier=spot.pricing_tier,
            spot_maker=_rate(spot.maker_fee_rate, "maker_fee_rate"),
            spot_taker=_rate(spot.taker_fee_rate, "taker_fee_rate"),
            futures_maker=_rate(futures.maker_fee_rate, "futures maker_fee_rate"),
            futures_taker=_rate(futures.taker_fee_rate, "futures taker_fee_rate"),
            fetched_ns=now_ns,
        )
    except (MoneyError, ValueError, ConfigError) as exc:
        raise NonRetryableVenueError(f"unusable fee tier from transaction_summary: {exc}") from exc


def _rate(raw: str, field: str) -> Decimal:
    if not raw:
        raise ValueError(f"{field} missing")
    return dec(raw, field)
