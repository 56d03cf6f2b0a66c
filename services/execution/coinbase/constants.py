"""Coinbase Advanced Trade constants the live adapter needs."""

from __future__ import annotations

API = "/api/v3/brokerage"
ORDERS = f"{API}/orders"
BATCH_CANCEL = f"{API}/orders/batch_cancel"
LIST_ORDERS = f"{API}/orders/historical/batch"
FILLS = f"{API}/orders/historical/fills"
PRODUCTS = f"{API}/products"
TRANSACTION_SUMMARY = f"{API}/transaction_summary"


def order_path(order_id: str) -> str:
    """`GET /orders/historical/{order_id}`."""
    return f"{API}/orders/historical/{order_id}"


CANCEL_BATCH_MAX = 100
"""`batch_cancel` takes at most 100 order ids per request."""

UNKNOWN_FAILURE_REASON = "UNKNOWN_FAILURE_REASON"
UNKNOWN_PREVIEW_FAILURE_REASON = "UNKNOWN_PREVIEW_FAILURE_REASON"
DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
PLACEHOLDER_REASONS = frozenset({"", UNKNOWN_FAILURE_REASON, UNKNOWN_PREVIEW_FAILURE_REASON})
"""Values that say nothing: the real reason is then in another field."""

# Reasons our own pre-trade checks use: the codes the venue itself would answer with.
INVALID_SIZE_PRECISION = "INVALID_SIZE_PRECISION"
INVALID_PRICE_PRECISION = "INVALID_PRICE_PRECISION"
INVALID_PRODUCT_ID = "INVALID_PRODUCT_ID"
INVALID_LIMIT_PRICE = "INVALID_LIMIT_PRICE"
INVALID_REQUEST = "INVALID_REQUEST"
UNSUPPORTED_ORDER_CONFIGURATION = "UNSUPPORTED_ORDER_CONFIGURATION"
POST_ONLY_NOT_ALLOWED_WITH_FOK = "POST_ONLY_NOT_ALLOWED_WITH_FOK"
WRONG_VENUE = "WRONG_VENUE"

ORDER_IS_FULLY_FILLED = "ORDER_IS_FULLY_FILLED"
