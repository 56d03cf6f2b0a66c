"""Structs for the venue's raw REST and WS JSON, one per shape.

Decimals stay strings until a service parses them (`shared.coinbase.parse`). Unknown fields are
ignored: the venue adds fields without notice, and only these ones matter. Every field a service
does not strictly need has a default, so a sparse answer still decodes.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


def decode(data: Any, kind: type[T]) -> T:
    """Raw JSON (a dict from the SDK) → a schema Struct; `msgspec.ValidationError` if unreadable."""
    return msgspec.convert(data, kind, strict=False)


class _Raw(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Base of every raw venue struct."""


# ---- orders ----
class ErrorResponse(_Raw, frozen=True, kw_only=True):
    """`error_response` of a rejected create-order (HTTP 200, `success: false`)."""

    error: str = ""
    message: str = ""
    error_details: str = ""
    preview_failure_reason: str = ""
    new_order_failure_reason: str = ""


class SuccessResponse(_Raw, frozen=True, kw_only=True):
    """`success_response` of an accepted (or idempotently returned) order."""

    order_id: str = ""
    product_id: str = ""
    side: str = ""
    client_order_id: str = ""


class CreateOrderResponse(_Raw, frozen=True, kw_only=True):
    """`POST /orders`: `success` decides; legacy top-level `failure_reason`/`order_id` may appear."""

    success: bool = False
    failure_reason: str = ""
    order_id: str = ""
    success_response: SuccessResponse | None = None
    error_response: ErrorResponse | None = None


class RestOrder(_Raw, frozen=True, kw_only=True):
    """One order from `GET /orders/historical/{id}` or the batch list."""

    order_id: str
    product_id: str = ""
    side: str = ""
    client_order_id: str = ""
    status: str = ""
    filled_size: str = "0"
    average_filled_price: str = "0"
    filled_value: str = "0"
    total_fees: str = "0"
    order_configuration: dict[str, Any] = msgspec.field(default_factory=dict)
    cancel_message: str = ""
    reject_message: str = ""
    reject_reason: str = ""
    created_time: str = ""


class GetOrderResponse(_Raw, frozen=True, kw_only=True):
    """`{"order": Order}`."""

    order: RestOrder


class ListOrdersResponse(_Raw, frozen=True, kw_only=True):
    """One page of `GET /orders/historical/batch`."""

    orders: list[RestOrder] = msgspec.field(default_factory=list)
    has_next: bool = False
    cursor: str = ""


class CancelResult(_Raw, frozen=True, kw_only=True):
    """One entry of `batch_cancel` results."""

    success: bool = False
    failure_reason: str = ""
    order_id: str = ""


class CancelResponse(_Raw, frozen=True, kw_only=True):
    """`POST /orders/batch_cancel`."""

    results: list[CancelResult] = msgspec.field(default_factory=list)


# ---- fills ----
class RestFill(_Raw, frozen=True, kw_only=True):
    """One fill from `GET /orders/historical/fills` (the authoritative record)."""

    trade_id: str
    order_id: str
    product_id: str = ""
    price: str
    size: str
    commission: str = "0"
    liquidity_indicator: str = ""
    side: str = ""
    trade_time: str = ""
    sequence_timestamp: str = ""
    size_in_quote: bool = False


class ListFillsResponse(_Raw, frozen=True, kw_only=True):
    """One page of fills, newest first; an empty `cursor` means the last page."""

    fills: list[RestFill] = msgspec.field(default_factory=list)
    cursor: str = ""


# ---- accounts and futures positions ----
class Money(_Raw, frozen=True, kw_only=True):
    """`{value, currency}`."""

    value: str = "0"
    currency: str = ""


class RestAccount(_Raw, frozen=True, kw_only=True):
    """One wallet of `GET /accounts`."""

    currency: str
    available_balance: Money = msgspec.field(default_factory=Money)
    hold: Money | None = None


class ListAccountsResponse(_Raw, frozen=True, kw_only=True):
    """One page of wallets."""

    accounts: list[RestAccount] = msgspec.field(default_factory=list)
    has_next: bool = False
    cursor: str = ""


class RestPosition(_Raw, frozen=True, kw_only=True):
    """One `GET /cfm/positions` entry; prices may be strings or money objects (not read)."""

    product_id: str
    side: str = ""
    number_of_contracts: str = "0"


class ListPositionsResponse(_Raw, frozen=True, kw_only=True):
    """`{"positions": [...]}`."""

    positions: list[RestPosition] = msgspec.field(default_factory=list)


# ---- products ----
class FutureProductDetails(_Raw, frozen=True, kw_only=True):
    """The part of `future_product_details` we read."""

    contract_size: str = "1"


class RestProduct(_Raw, frozen=True, kw_only=True):
    """One product from `GET /products`; a missing increment reads as '' (an unusable product)."""

    product_id: str
    product_type: str = "SPOT"
    base_currency_id: str = ""
    quote_currency_id: str = ""
    base_increment: str = ""
    price_increment: str = ""
    base_min_size: str = "0"
    quote_min_size: str = "0"
    status: str = ""
    trading_disabled: bool = False
    future_product_details: FutureProductDetails | None = None


class ListProductsResponse(_Raw, frozen=True, kw_only=True):
    """`GET /products`."""

    products: list[RestProduct] = msgspec.field(default_factory=list)


# ---- fees ----
class RestFeeTier(_Raw, frozen=True, kw_only=True):
    """The part of `fee_tier` we read (rates are strings of fractions, e.g. "0.006")."""

    pricing_tier: str = ""
    taker_fee_rate: str = ""
    maker_fee_rate: str = ""


class TransactionSummary(_Raw, frozen=True, kw_only=True):
    """`GET /transaction_summary` (optionally `?product_type=FUTURE`)."""

    fee_tier: RestFeeTier = msgspec.field(default_factory=RestFeeTier)


# ---- WS `user` channel ----
class UserOrder(_Raw, frozen=True, kw_only=True):
    """An order on the WS `user` channel: cumulative state, no fills, no trade ids."""

    order_id: str
    client_order_id: str = ""
    status: str = ""
    cumulative_quantity: str = "0"


class UserEvent(_Raw, frozen=True, kw_only=True):
    """One event of a `user` message: a snapshot batch (≤ 50 orders) or an update."""

    type: str = ""
    orders: list[UserOrder] = msgspec.field(default_factory=list)


class WsEnvelope(_Raw, frozen=True, kw_only=True):
    """Every WS message; errors come without an envelope (`{"type": "error", "message": ...}`)."""

    channel: str = ""
    type: str = ""
    message: str = ""
    sequence_num: int = 0
    events: list[UserEvent] = msgspec.field(default_factory=list)
