"""Venue objects → Coinbase JSON shapes (REST and the WS `user` channel). All decimals are strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.messages import OrderType
from shared.money import ZERO
from shared.timefmt import format_rfc3339
from shared.venue import CoinbaseOrderStatus, Fill, Order, Product, Venue

ZERO_TIME = "0001-01-01T00:00:00Z"


def fmt(value: Decimal) -> str:
    """Decimal as Coinbase prints it: plain notation, no exponent, no trailing zeros."""
    if value == ZERO:
        return "0"
    return format(value.normalize(), "f")


def rfc3339(ns: int) -> str:
    """RFC3339 with nanoseconds and a Z, as WS envelopes carry."""
    if ns <= 0:
        return ZERO_TIME
    return format_rfc3339(ns)


def money(value: Decimal, currency: str) -> dict[str, str]:
    """The `{value, currency}` object REST uses for balances."""
    return {"value": fmt(value), "currency": currency}


def product_json(product: Product, venue: Venue) -> dict[str, Any]:
    """A REST Product (list and single)."""
    book = venue.books[product.product_id]
    price = venue.last_price.get(product.product_id) or book.mid() or ZERO
    mid = book.mid()
    out: dict[str, Any] = {
        "product_id": product.product_id,
        "price": fmt(price),
        "price_percentage_change_24h": "0",
        "volume_24h": fmt(sum((t.size for t in venue.trades[product.product_id]), ZERO)),
        "volume_percentage_change_24h": "0",
        "base_increment": fmt(product.base_increment),
        "quote_increment": fmt(product.quote_increment),
        "price_increment": fmt(product.price_increment),
        "quote_min_size": fmt(product.quote_min_size),
        "quote_max_size": fmt(product.quote_max_size),
        "base_min_size": fmt(product.base_min_size),
        "base_max_size": fmt(product.base_max_size),
        "base_name": product.base_name,
        "quote_name": product.quote_name,
        "watched": False,
        "is_disabled": product.trading_disabled,
        "new": False,
        "status": product.status,
        "cancel_only": product.cancel_only,
        "limit_only": product.limit_only,
        "post_only": product.post_only,
        "trading_disabled": product.trading_disabled,
        "auction_mode": False,
        "product_type": product.product_type.value,
        "quote_currency_id": product.quote_currency,
        "base_currency_id": product.base_currency,
        "fcm_trading_session_details": None,
        "mid_market_price": fmt(mid) if mid is not None else "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": product.base_currency,
        "quote_display_symbol": product.quote_currency,
        "view_only": False,
        "display_name": product.product_id,
        "product_venue": "FCM" if product.is_future else "CBE",
        "approximate_quote_24h_volume": "0",
    }
    if product.future is not None:
        out.update(_future_fields(product))
    return out


def _future_fields(product: Product) -> dict[str, Any]:
    fut = product.future
    assert fut is not None
    return {
        "display_name": fut.display_name,
        "fcm_trading_session_details": {
            "is_session_open": product.session_open,
            "session_state": "FCM_TRADING_SESSION_STATE_OPEN"
            if product.session_open
            else "FCM_TRADING_SESSION_STATE_CLOSE",
            "after_hours_order_entry_disabled": False,
        },
        "future_product_details": {
            "venue": "cde",
            "contract_code": fut.contract_code,
            "contract_expiry": fut.contract_expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "contract_size": fmt(fut.contract_size),
            "contract_root_unit": "BTC",
            "group_description": "nano Bitcoin Futures",
            "contract_expiry_timezone": "Europe/London",
            "group_short_description": "nano BTC",
            "risk_managed_by": "MANAGED_BY_FCM",
            "contract_expiry_type": "EXPIRING",
            "contract_display_name": fut.display_name,
            "funding_rate": fmt(fut.funding_rate) if fut.is_perp_style else "",
            "funding_interval": "3600s" if fut.is_perp_style else None,
            "twenty_four_by_seven": True,
            "intraday_margin_rate": {
                "long_margin_rate": fmt(fut.intraday_long_margin),
                "short_margin_rate": fmt(fut.intraday_short_margin),
            },
            "overnight_margin_rate": {
                "long_margin_rate": fmt(fut.overnight_long_margin),
                "short_margin_rate": fmt(fut.overnight_short_margin),
            },
        },
    }


def order_json(order: Order, venue: Venue) -> dict[str, Any]:
    """A REST Order (`GET /orders/historical/{id}` and list)."""
    req = order.request
    product = venue.products[order.product_id]
    base = req.base_size or ZERO
    completion = ZERO if not base else order.filled_size / base * 100
    if order.status is CoinbaseOrderStatus.FILLED:
        completion = Decimal(100)
    return {
        "order_id": order.order_id,
        "product_id": order.product_id,
        "user_id": order.account_id,
        "order_configuration": req.configuration,
        "side": order.side.value,
        "client_order_id": req.client_order_id,
        "status": order.status.value,
        "time_in_force": req.time_in_force.value,
        "created_time": rfc3339(order.created_ns),
        "completion_percentage": fmt(completion.quantize(Decimal("0.01"))),
        "filled_size": fmt(order.filled_size),
        "average_filled_price": fmt(order.average_filled_price),
        "fee": "",
        "number_of_fills": str(order.number_of_fills),
        "filled_value": fmt(order.filled_value),
        "pending_cancel": False,
        "size_in_quote": req.quote_size is not None,
        "total_fees": fmt(order.total_fees),
        "size_inclusive_of_fees": req.quote_size is not None,
        "total_value_after_fees": fmt(_value_after_fees(order)),
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": req.order_type.value,
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": order.status.is_terminal,
        "product_type": product.product_type.value,
        "reject_message": "",
        "cancel_message": order.cancel_message,
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": fmt(order.hold_remaining),
        "is_liquidation": False,
        "last_fill_time": rfc3339(order.last_fill_ns) if order.last_fill_ns else None,
        "edit_history": [],
        "leverage": "",
        "margin_type": "CROSS" if product.is_future else "UNKNOWN_MARGIN_TYPE",
        "retail_portfolio_id": order.account_id,
        "originating_order_id": "",
        "attached_order_id": "",
    }


def _value_after_fees(order: Order) -> Decimal:
    if order.side.value == "BUY":
        return order.filled_value + order.total_fees
    return order.filled_value - order.total_fees


def user_order_json(order: Order, venue: Venue) -> dict[str, Any]:
    """An order as the WS `user` channel reports it: cumulative state, `post_only` as a string."""
    req = order.request
    product = venue.products[order.product_id]
    future = product.is_future
    return {
        "avg_price": fmt(order.average_filled_price),
        "cancel_reason": order.cancel_message if order.status is CoinbaseOrderStatus.CANCELLED else "",
        "client_order_id": req.client_order_id,
        "completion_percentage": order_json(order, venue)["completion_percentage"],
        "contract_expiry_type": "EXPIRING" if future else "UNKNOWN_CONTRACT_EXPIRY_TYPE",
        "cumulative_quantity": fmt(order.filled_size),
        "filled_value": fmt(order.filled_value),
        "leaves_quantity": fmt(order.leaves_size),
        "limit_price": fmt(req.limit_price) if req.order_type is OrderType.LIMIT and req.limit_price else "0",
        "number_of_fills": str(order.number_of_fills),
        "order_id": order.order_id,
        "order_side": order.side.value,
        "order_type": req.order_type.value,
        "outstanding_hold_amount": fmt(order.hold_remaining),
        "post_only": "true" if req.post_only else "false",
        "product_id": order.product_id,
        "product_type": product.product_type.value,
        "reject_reason": "",
        "retail_portfolio_id": order.account_id,
        "risk_managed_by": "MANAGED_BY_FCM" if future else "UNKNOWN_RISK_MANAGEMENT_TYPE",
        "status": order.status.value,
        "stop_price": "",
        "time_in_force": req.time_in_force.value,
        "total_fees": fmt(order.total_fees),
        "total_value_after_fees": fmt(_value_after_fees(order)),
        "trigger_status": "INVALID_ORDER_TYPE",
        "creation_time": rfc3339(order.created_ns),
        "end_time": rfc3339(req.end_time_ns or 0),
        "start_time": ZERO_TIME,
    }


def fill_json(fill: Fill) -> dict[str, Any]:
    """A REST fill (`/orders/historical/fills`); note the camelCase `fillSource`."""
    commission = fmt(fill.commission)
    return {
        "entry_id": fill.entry_id,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "trade_time": rfc3339(fill.time_ns),
        "trade_type": "FILL",
        "price": fmt(fill.price),
        "size": fmt(fill.size),
        "commission": commission,
        "product_id": fill.product_id,
        "sequence_timestamp": rfc3339(fill.time_ns),
        "liquidity_indicator": fill.liquidity.value,
        "size_in_quote": False,
        "user_id": fill.account_id,
        "side": fill.side.value,
        "retail_portfolio_id": fill.account_id,
        "fillSource": "FILL_SOURCE_UNKNOWN",
        "commission_detail_total": {
            "total_commission": commission,
            "gst_commission": "0",
            "withholding_commission": "0",
            "client_commission": "0",
            "venue_commission": "0",
            "regulatory_commission": "0",
            "clearing_commission": "0",
        },
    }


def error_body(error: str, details: str) -> dict[str, str]:
    """The `{error, error_details, message}` body of 4xx responses."""
    return {"error": error, "error_details": details, "message": details}
