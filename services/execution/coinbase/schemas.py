"""Structs for the venue's raw JSON: defined once in `shared.coinbase.schemas` (reconciliation reads
the same shapes) and re-exported here, where the adapter's fixed shape expects them."""

from __future__ import annotations

from shared.coinbase.schemas import (
    CancelResponse,
    CancelResult,
    CreateOrderResponse,
    ErrorResponse,
    FutureProductDetails,
    GetOrderResponse,
    ListFillsResponse,
    ListOrdersResponse,
    ListProductsResponse,
    RestFill,
    RestOrder,
    RestProduct,
    SuccessResponse,
    TransactionSummary,
    UserEvent,
    UserOrder,
    WsEnvelope,
)

__all__ = [
    "CancelResponse",
    "CancelResult",
    "CreateOrderResponse",
    "ErrorResponse",
    "FutureProductDetails",
    "GetOrderResponse",
    "ListFillsResponse",
    "ListOrdersResponse",
    "ListProductsResponse",
    "RestFill",
    "RestOrder",
    "RestProduct",
    "SuccessResponse",
    "TransactionSummary",
    "UserEvent",
    "UserOrder",
    "WsEnvelope",
]
