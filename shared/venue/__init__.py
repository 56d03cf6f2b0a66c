"""The pure venue core: products, books, matching, holds and fees, with Coinbase's semantics.

No I/O, no asyncio, no clock: every call that needs time takes `now_ns`. The exchange simulator and
the paper-execution service both drive `Venue`, so there is one copy of matching and fee logic.

Typical use::

    venue = Venue(default_products(now_ns), fees=DEFAULT_FEES, seed=1)
    venue.account("me").set_balance("USD", Decimal("10000"))
    venue.set_liquidity("BTC-USD", bids=[(Decimal("99.99"), Decimal("1"))], asks=[...], now_ns=now_ns)
    result = venue.submit(parse_order_request(body, account_id="me"), now_ns)  # or OrderRejectedError
    venue.cancel(order_id, now_ns)                # None, or a Coinbase cancel failure reason
    venue.expire(now_ns)                          # GTD orders past end_time → EXPIRED
    venue.take_liquidity("BTC-USD", Side.SELL, Decimal("0.5"), None, now_ns)  # an outside print
    events = venue.drain_events()  # order snapshots (one per change), public trades, fills, L2 changes

Futures: `apply_funding` (perp-style funding) and `settle_expired` (cash settlement at expiry).
Failures: `shared.errors.OrderRejectedError.reason` / `.preview_reason` carry Coinbase's failure enums.
"""

from shared.messages.products import FeeRates, FeeTier
from shared.venue.accounts import Account, Position
from shared.venue.book import OrderBook
from shared.venue.engine import LIQUIDITY_ACCOUNT, DuplicateMode, Venue, VenueEvents
from shared.venue.errors import UnknownOrderError, UnknownProductError
from shared.venue.fees import DEFAULT_FEES, FUTURES_DEFAULT, US_INTRO, fee_rates
from shared.venue.futures import apply_funding, settle_expired
from shared.venue.orders import Fill, Order, OrderRequest, SubmitResult, Trade, parse_order_request
from shared.venue.products import FutureDetails, Product, btc_nano_future, default_products, spot
from shared.venue.settle import book_fill
from shared.venue.types import CoinbaseOrderStatus, CoinbaseTimeInForce, ProductType

__all__ = [
    "DEFAULT_FEES",
    "FUTURES_DEFAULT",
    "LIQUIDITY_ACCOUNT",
    "US_INTRO",
    "Account",
    "CoinbaseOrderStatus",
    "CoinbaseTimeInForce",
    "DuplicateMode",
    "FeeRates",
    "FeeTier",
    "Fill",
    "FutureDetails",
    "Order",
    "OrderBook",
    "OrderRequest",
    "Position",
    "Product",
    "ProductType",
    "SubmitResult",
    "Trade",
    "UnknownOrderError",
    "UnknownProductError",
    "Venue",
    "VenueEvents",
    "apply_funding",
    "book_fill",
    "btc_nano_future",
    "default_products",
    "fee_rates",
    "parse_order_request",
    "settle_expired",
    "spot",
]
