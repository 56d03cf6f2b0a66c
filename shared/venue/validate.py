"""Pre-trade checks with Coinbase's failure reasons. Off-grid values are rejected, never rounded."""

from __future__ import annotations

from shared.errors import OrderRejectedError
from shared.messages import OrderType
from shared.money import ZERO, is_on_grid
from shared.venue.book import OrderBook
from shared.venue.orders import OrderRequest
from shared.venue.products import Product
from shared.venue.types import CoinbaseTimeInForce


def _reject(reason: str, message: str, preview: str = "UNKNOWN_PREVIEW_FAILURE_REASON") -> OrderRejectedError:
    return OrderRejectedError(reason, message, preview)


def check_tradable(request: OrderRequest, product: Product) -> None:
    """Product status, trading session and order-type permissions."""
    if product.trading_disabled or product.status not in ("online", ""):
        raise _reject("TRADING_DISABLED", f"{product.product_id} is not trading")
    if product.cancel_only:
        raise _reject("ORDER_ENTRY_DISABLED", f"{product.product_id} is cancel-only")
    if product.is_future and not product.session_open:
        raise _reject(
            "INVALID_FCM_TRADING_SESSION", "futures session is closed", "PREVIEW_INVALID_FCM_TRADING_SESSION"
        )
    if request.config_key == "market_market_fok" and not product.is_future:
        raise _reject("UNSUPPORTED_ORDER_CONFIGURATION", "market FOK is only supported on futures")
    if request.order_type is OrderType.MARKET and product.limit_only:
        raise _reject("UNSUPPORTED_ORDER_CONFIGURATION", f"{product.product_id} is limit-only")


def check_sizes(request: OrderRequest, product: Product) -> None:
    """Exactly one size, on the product grid and within its limits."""
    base, quote = request.base_size, request.quote_size
    if (base is None) == (quote is None):
        raise _reject("INVALID_REQUEST", "exactly one of base_size and quote_size is required")
    if quote is not None and (request.order_type is OrderType.LIMIT or product.is_future):
        raise _reject("UNSUPPORTED_ORDER_CONFIGURATION", "quote_size is only supported on spot market orders")
    if base is not None:
        if not is_on_grid(base, product.base_increment):
            raise _reject(
                "INVALID_SIZE_PRECISION",
                f"base_size {base:f} is not a multiple of {product.base_increment:f}",
            )
        if base <= ZERO or base < product.base_min_size:
            raise _reject(
                "INVALID_REQUEST",
                f"base_size {base:f} is below {product.base_min_size:f}",
                "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
            )
        if base > product.base_max_size:
            raise _reject(
                "INVALID_REQUEST",
                f"base_size {base:f} is above {product.base_max_size:f}",
                "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE",
            )
    if quote is not None:
        if not is_on_grid(quote, product.quote_increment):
            raise _reject(
                "INVALID_SIZE_PRECISION",
                f"quote_size {quote:f} is not a multiple of {product.quote_increment:f}",
            )
        if quote <= ZERO or quote < product.quote_min_size:
            raise _reject(
                "INVALID_REQUEST",
                f"quote_size {quote:f} is below {product.quote_min_size:f}",
                "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
            )


def check_price(request: OrderRequest, product: Product, now_ns: int) -> None:
    """Limit price present, positive, on the grid; notional and GTD end time sane."""
    if request.order_type is not OrderType.LIMIT:
        return
    price = request.limit_price
    if price is None or price <= ZERO:
        raise _reject("INVALID_LIMIT_PRICE", "limit_price must be a positive decimal")
    if not is_on_grid(price, product.price_increment):
        raise _reject(
            "INVALID_PRICE_PRECISION",
            f"limit_price {price:f} is not a multiple of {product.price_increment:f}",
        )
    if request.base_size is not None and product.notional(request.base_size, price) < product.quote_min_size:
        raise _reject(
            "INVALID_REQUEST",
            f"order value is below {product.quote_min_size:f}",
            "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
        )
    if request.time_in_force is CoinbaseTimeInForce.GTD and (request.end_time_ns or 0) <= now_ns:
        raise _reject("END_TIME_IS_IN_THE_PAST", "end_time is in the past")


def check_book(request: OrderRequest, book: OrderBook) -> None:
    """Post-only must not take; a market order needs something to take."""
    if (
        request.post_only
        and request.limit_price is not None
        and book.would_cross(request.side, request.limit_price)
    ):
        raise _reject(
            "INVALID_LIMIT_PRICE_POST_ONLY",
            "post-only order would cross the book",
            "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
        )
    if request.order_type is OrderType.MARKET:
        best = book.best_ask() if request.side.value == "BUY" else book.best_bid()
        if best is None:
            raise _reject("INVALID_NO_LIQUIDITY", "no liquidity on the opposite side of the book")


def validate(request: OrderRequest, product: Product, book: OrderBook, now_ns: int) -> None:
    """Every pre-trade check except funds, in the order a venue applies them."""
    check_tradable(request, product)
    check_sizes(request, product)
    check_price(request, product, now_ns)
    check_book(request, book)
