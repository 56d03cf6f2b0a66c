"""Order → create-order body (checked, never rounded) and venue JSON → domain."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from services.execution.coinbase import parse
from services.execution.coinbase.schemas import (
    CreateOrderResponse,
    RestFill,
    RestOrder,
    RestProduct,
    TransactionSummary,
)
from services.execution.errors import NonRetryableVenueError
from shared.coinbase.schemas import RestFeeTier
from shared.errors import OrderRejectedError
from shared.messages import Liquidity, Order, OrderStatus, OrderType, ProductInfo, Side, TimeInForce

BTC = ProductInfo(
    venue="coinbase",
    product_id="BTC-USD",
    base_increment=Decimal("0.00000001"),
    price_increment=Decimal("0.01"),
    base_min_size=Decimal("0.00000001"),
    min_notional=Decimal(1),
)
BIT = ProductInfo(
    venue="coinbase",
    product_id="BIT-27NOV26-CDE",
    base_increment=Decimal(1),
    price_increment=Decimal(5),
    base_min_size=Decimal(1),
    contract_size=Decimal("0.01"),
)


def order(**overrides: Any) -> Order:
    values: dict[str, Any] = {
        "client_order_id": "c1",
        "strategy_id": "s1",
        "intent_seq": 1,
        "leg": 0,
        "venue": "coinbase",
        "product_id": "BTC-USD",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "size": Decimal("0.001"),
        "limit_price": Decimal("60000.00"),
        "time_in_force": TimeInForce.GTC,
        "approved_ns": time.time_ns(),
    }
    values.update(overrides)
    return Order(**values)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"order_type": OrderType.MARKET, "limit_price": None},
            {"market_market_ioc": {"base_size": "0.001"}},
        ),
        (
            {"order_type": OrderType.MARKET, "limit_price": None, "time_in_force": TimeInForce.FOK},
            {"market_market_fok": {"base_size": "0.001"}},
        ),
        ({}, {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "60000", "post_only": False}}),
        (
            {"post_only": True},
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "60000", "post_only": True}},
        ),
        (
            {"time_in_force": TimeInForce.IOC},
            {"sor_limit_ioc": {"base_size": "0.001", "limit_price": "60000"}},
        ),
        (
            {"time_in_force": TimeInForce.FOK},
            {"limit_limit_fok": {"base_size": "0.001", "limit_price": "60000"}},
        ),
    ],
)
def test_order_configuration_per_type(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    assert parse.order_configuration(order(**overrides)) == expected


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"time_in_force": TimeInForce.FOK, "post_only": True}, "POST_ONLY_NOT_ALLOWED_WITH_FOK"),
        ({"time_in_force": TimeInForce.IOC, "post_only": True}, "UNSUPPORTED_ORDER_CONFIGURATION"),
        ({"time_in_force": TimeInForce.GTD}, "UNSUPPORTED_ORDER_CONFIGURATION"),
        ({"limit_price": None}, "INVALID_LIMIT_PRICE"),
        (
            {"order_type": OrderType.MARKET, "limit_price": None, "post_only": True},
            "UNSUPPORTED_ORDER_CONFIGURATION",
        ),
    ],
)
def test_unsupported_combinations_are_rejected(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(OrderRejectedError) as exc:
        parse.order_configuration(order(**overrides))
    assert exc.value.reason == reason


@pytest.mark.parametrize(
    ("product", "overrides", "reason"),
    [
        (BTC, {"size": Decimal("0.000000001")}, "INVALID_SIZE_PRECISION"),
        (BTC, {"limit_price": Decimal("60000.001")}, "INVALID_PRICE_PRECISION"),
        (BTC, {"size": Decimal("0.00000001"), "limit_price": Decimal("10.00")}, "INVALID_REQUEST"),
        (
            BIT,
            {"product_id": "BIT-27NOV26-CDE", "size": Decimal("1.5"), "limit_price": Decimal(60000)},
            "INVALID_SIZE_PRECISION",
        ),
        (
            BIT,
            {"product_id": "BIT-27NOV26-CDE", "size": Decimal(2), "limit_price": Decimal(60002)},
            "INVALID_PRICE_PRECISION",
        ),
        (None, {}, "INVALID_PRODUCT_ID"),
    ],
)
def test_off_grid_values_are_rejected_never_rounded(
    product: ProductInfo | None, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(OrderRejectedError) as exc:
        parse.create_body(order(**overrides), product)
    assert exc.value.reason == reason
    assert exc.value.detail


def test_futures_are_sized_in_whole_contracts() -> None:
    body = parse.create_body(
        order(product_id="BIT-27NOV26-CDE", size=Decimal(3), limit_price=Decimal(60005)), BIT
    )
    assert body["order_configuration"] == {
        "limit_limit_gtc": {"base_size": "3", "limit_price": "60005", "post_only": False}
    }
    assert body["client_order_id"] == "c1"


def decode(raw: dict[str, Any]) -> CreateOrderResponse:
    return msgspec.convert(raw, CreateOrderResponse)


def test_reject_reason_prefers_the_most_specific_field() -> None:
    # The documented example: new_order_failure_reason is a placeholder, `error` holds the reason.
    documented = decode(
        {
            "success": False,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": "",
            "error_response": {
                "error": "INSUFFICIENT_FUND",
                "message": "Insufficient balance in source account",
                "error_details": "",
                "preview_failure_reason": "PREVIEW_INSUFFICIENT_FUND",
                "new_order_failure_reason": "UNKNOWN_FAILURE_REASON",
            },
        }
    )
    assert parse.reject_reason(documented) == "INSUFFICIENT_FUND"
    newer = decode(
        {
            "success": False,
            "error_response": {
                "error": "UNKNOWN_FAILURE_REASON",
                "new_order_failure_reason": "INVALID_LIMIT_PRICE_POST_ONLY",
            },
        }
    )
    assert parse.reject_reason(newer) == "INVALID_LIMIT_PRICE_POST_ONLY"
    preview_only = decode(
        {
            "success": False,
            "error_response": {"preview_failure_reason": "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL"},
        }
    )
    assert parse.reject_reason(preview_only) == "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL"
    legacy = decode({"success": False, "failure_reason": "INVALID_PRODUCT_ID"})
    assert parse.reject_reason(legacy) == "INVALID_PRODUCT_ID"
    assert parse.reject_reason(decode({"success": False})) == "UNKNOWN_FAILURE_REASON"


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("PENDING", "0", OrderStatus.ACCEPTED),
        ("OPEN", "0", OrderStatus.ACCEPTED),
        ("OPEN", "0.1", OrderStatus.PARTIALLY_FILLED),
        ("QUEUED", "0", OrderStatus.ACCEPTED),
        ("CANCEL_QUEUED", "0.1", OrderStatus.PARTIALLY_FILLED),
        ("FILLED", "1", OrderStatus.FILLED),
        ("CANCELLED", "0", OrderStatus.CANCELLED),
        ("EXPIRED", "0", OrderStatus.EXPIRED),
        ("FAILED", "0", OrderStatus.REJECTED),
        ("UNKNOWN_ORDER_STATUS", "0", OrderStatus.UNKNOWN),
    ],
)
def test_order_status_mapping(status: str, filled: str, expected: OrderStatus) -> None:
    raw = RestOrder(order_id="o", status=status)
    assert parse.order_status(raw, Decimal(filled)) is expected


def test_fill_parsing_and_timestamps() -> None:
    raw = RestFill(
        trade_id="t1",
        order_id="o1",
        product_id="BTC-USD",
        price="10000.00",
        size="0.001",
        commission="1.25",
        liquidity_indicator="MAKER",
        side="BUY",
        trade_time="2021-05-31T09:59:59.123456789Z",
        sequence_timestamp="2021-05-31T09:58:59.000Z",
    )
    fill = parse.to_fill(raw, order())
    assert (fill.trade_id, fill.price, fill.size, fill.fee) == (
        "t1",
        Decimal("10000.00"),
        Decimal("0.001"),
        Decimal("1.25"),
    )
    assert fill.liquidity is Liquidity.MAKER
    assert fill.strategy_id == "s1"
    assert fill.venue_order_id == "o1"
    assert fill.fill_ns == 1622455199_123456789
    assert parse.rfc3339_ns("2021-05-31T09:59:59+00:00") == 1622455199_000000000
    assert parse.rfc3339_ns("garbage") == 0
    assert parse.rfc3339_ns(parse.to_rfc3339(1622455199_123456000)) == 1622455199_123456000


def test_product_info_from_the_catalogue() -> None:
    spot = RestProduct(
        product_id="BTC-USD", base_increment="0.00000001", price_increment="0.01", quote_min_size="1"
    )
    info = parse.product_info("coinbase", spot)
    assert info is not None
    assert (info.base_increment, info.min_notional, info.contract_size) == (
        Decimal("1e-8"),
        Decimal(1),
        Decimal(1),
    )
    future = msgspec.convert(
        {
            "product_id": "BIT-27NOV26-CDE",
            "base_increment": "1",
            "price_increment": "5",
            "base_min_size": "1",
            "future_product_details": {"contract_size": "0.01"},
        },
        RestProduct,
    )
    fut = parse.product_info("coinbase", future)
    assert fut is not None
    assert fut.contract_size == Decimal("0.01")
    broken = RestProduct(product_id="X-Y", base_increment="0", price_increment="0.01")
    assert parse.product_info("coinbase", broken) is None


def test_matches_checks_id_product_and_side() -> None:
    raw = RestOrder(order_id="o", client_order_id="c1", product_id="BTC-USD", side="BUY")
    assert parse.matches(raw, order())
    assert not parse.matches(raw, order(side=Side.SELL))
    assert not parse.matches(raw, order(client_order_id="c2"))


def test_fmt_never_uses_exponents() -> None:
    assert parse.fmt(Decimal("1E-8")) == "0.00000001"
    assert parse.fmt(Decimal("60000.00")) == "60000"
    assert parse.fmt(Decimal("1E+2")) == "100"


def test_a_fee_tier_is_read_exactly_and_an_unusable_one_is_an_error() -> None:
    spot = msgspec.json.decode(
        b'{"fee_tier": {"pricing_tier": "Advanced 1", "taker_fee_rate": "0.008", "maker_fee_rate": "0.006"}}',
        type=TransactionSummary,
    ).fee_tier
    futures = RestFeeTier(pricing_tier="Futures", taker_fee_rate="0.0005", maker_fee_rate="0.0002")
    rates = parse.fee_rates("coinbase", spot, futures, 7)
    assert (rates.spot_taker, rates.spot_maker, rates.futures_taker) == (
        Decimal("0.008"),
        Decimal("0.006"),
        Decimal("0.0005"),
    )
    assert rates.pricing_tier == "Advanced 1"
    for bad in ("", "NaN", "-0.1", "1.5"):
        broken = RestFeeTier(pricing_tier="x", taker_fee_rate=bad, maker_fee_rate="0.001")
        with pytest.raises(NonRetryableVenueError, match="fee tier"):
            parse.fee_rates("coinbase", broken, futures, 7)
