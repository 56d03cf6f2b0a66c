"""Validation reasons, funds and holds, idempotency, futures contracts and margin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.errors import OrderRejectedError
from shared.messages import Side
from shared.venue import CoinbaseOrderStatus as OrderStatus
from shared.venue import Venue, default_products, parse_order_request

from .helpers import ME, NOW, D, limit, market, req


def reason_of(venue: Venue, config: dict[str, object], **kw: str) -> tuple[str, str]:
    with pytest.raises(OrderRejectedError) as exc:
        venue.submit(req(config, **kw), NOW)  # type: ignore[arg-type]
    return exc.value.reason, exc.value.preview_reason


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (limit("0", "100.00"), "INVALID_REQUEST"),  # below base_min_size
        (limit("0.000000001", "100.00"), "INVALID_SIZE_PRECISION"),
        (limit("0.100000001", "100.00"), "INVALID_SIZE_PRECISION"),
        (limit("0.1", "100.001"), "INVALID_PRICE_PRECISION"),
        (limit("0.1", "0"), "INVALID_LIMIT_PRICE"),
        (limit("0.001", "100.00"), "INVALID_REQUEST"),  # notional 0.1 < quote_min_size 1
        (market(quote="0.5"), "INVALID_REQUEST"),
        (market(quote="10.001"), "INVALID_SIZE_PRECISION"),
        (market(base="1", quote="1"), "INVALID_REQUEST"),
        ({"market_market_fok": {"base_size": "0.1"}}, "UNSUPPORTED_ORDER_CONFIGURATION"),
        (
            {"limit_limit_fok": {"base_size": "0.1", "limit_price": "100", "post_only": True}},
            "POST_ONLY_NOT_ALLOWED_WITH_FOK",
        ),
        ({"limit_limit_gtd": {"base_size": "0.1", "limit_price": "100"}}, "GTD_ORDERS_MUST_HAVE_END_TIME"),
        (
            {
                "limit_limit_gtd": {
                    "base_size": "0.1",
                    "limit_price": "100",
                    "end_time": "2020-01-01T00:00:00Z",
                }
            },
            "END_TIME_IS_IN_THE_PAST",
        ),
        ({"twap_limit_gtd": {}}, "UNSUPPORTED_ORDER_CONFIGURATION"),
        ({}, "UNSUPPORTED_ORDER_CONFIGURATION"),
    ],
)
def test_reject_reasons(venue: Venue, config: dict[str, object], reason: str) -> None:
    assert reason_of(venue, config)[0] == reason
    assert venue.account(ME).hold("USD") == 0


def test_off_grid_is_rejected_not_rounded(venue: Venue) -> None:
    assert reason_of(venue, limit("0.123456789", "100.00"))[0] == "INVALID_SIZE_PRECISION"
    assert not venue.orders


def test_unknown_product_and_side(venue: Venue) -> None:
    assert reason_of(venue, limit("1", "100"), product="NOPE-USD")[0] == "INVALID_PRODUCT_ID"
    with pytest.raises(OrderRejectedError) as exc:
        parse_order_request({"side": "HOLD", "order_configuration": limit("1", "1")})
    assert exc.value.reason == "INVALID_SIDE"


def test_market_order_into_empty_book_is_rejected(venue: Venue) -> None:
    assert reason_of(venue, market(base="1"), product="ETH-USD")[0] == "INVALID_NO_LIQUIDITY"


def test_insufficient_funds_for_buy_and_sell(venue: Venue) -> None:
    venue.account(ME).set_balance("USD", D("10"))
    assert reason_of(venue, limit("1", "100.00")) == ("INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND")
    assert reason_of(venue, limit("3", "100.00"), side="SELL")[0] == "INSUFFICIENT_FUND"


def test_holds_limit_available(venue: Venue) -> None:
    venue.account(ME).set_balance("USD", D("100"))
    venue.submit(req(limit("0.5", "100.00")), NOW)  # holds 50.45
    assert venue.account(ME).available("USD") == D("100") - D("50.45")
    assert reason_of(venue, limit("0.5", "100.00"))[0] == "INSUFFICIENT_FUND"
    sell = venue.submit(req(limit("1.5", "110.00"), side="SELL"), NOW).order
    assert venue.account(ME).available("BTC") == D("0.5")
    venue.cancel(sell.order_id, NOW)
    assert venue.account(ME).available("BTC") == D("2")


def test_duplicate_client_order_id_returns_original_even_after_fill(venue: Venue) -> None:
    first = venue.submit(req(market(base="0.1"), coid="x"), NOW)
    again = venue.submit(req(limit("5", "1.00"), coid="x"), NOW + 1)
    assert again.duplicate
    assert again.order is first.order
    assert again.order.status is OrderStatus.FILLED
    assert len(venue.orders) == 1


def test_duplicate_client_order_id_reject_mode(venue: Venue) -> None:
    venue.duplicate_mode = "reject"
    venue.submit(req(limit("0.1", "90.00"), coid="x"), NOW)
    assert reason_of(venue, limit("0.1", "90.00"), coid="x")[0] == "DUPLICATE_CLIENT_ORDER_ID"


def test_fee_tier_rates(venue: Venue) -> None:
    tier = venue.fees.tier_for(venue.product("BTC-USD"))
    assert (tier.maker_fee_rate, tier.taker_fee_rate) == (D("0.005"), D("0.009"))


# -- futures --------------------------------------------------------------------------------------
def future_venue() -> tuple[Venue, str]:
    v = Venue(default_products(NOW), seed=1)
    fut = next(p for p in v.products.values() if p.product_id.startswith("BIT-"))
    v.account(ME).set_balance("USD", D("10000"))
    v.set_liquidity(fut.product_id, bids=[(D("100000"), D("50"))], asks=[(D("100005"), D("50"))], now_ns=NOW)
    return v, fut.product_id


def test_catalogue_has_nano_futures() -> None:
    products = {p.product_id: p for p in default_products(NOW)}
    bit = products["BIT-28NOV25-CDE"]
    assert bit.contract_size == D("0.01")
    assert (bit.base_increment, bit.price_increment, bit.base_min_size) == (D(1), D(5), D(1))
    assert "BIP-20DEC30-CDE" in products
    assert products["BIP-20DEC30-CDE"].future.is_perp_style  # type: ignore[union-attr]


def test_future_whole_contracts_and_price_grid() -> None:
    v, pid = future_venue()
    assert reason_of(v, limit("1.5", "100000"), product=pid)[0] == "INVALID_SIZE_PRECISION"
    assert reason_of(v, limit("1", "100001"), product=pid)[0] == "INVALID_PRICE_PRECISION"


def test_future_fill_opens_position_and_holds_margin() -> None:
    v, pid = future_venue()
    order = v.submit(req(market(base="2"), product=pid), NOW).order
    assert order.status is OrderStatus.FILLED
    notional = D("100005") * D("0.02")
    assert order.filled_value == notional
    assert order.total_fees == notional * D("0.0005")
    pos = v.account(ME).positions[pid]
    assert pos.contracts == D(2)
    assert pos.avg_entry_price == D("100005")
    assert v.account(ME).hold("USD") == notional * D("0.234375")
    assert v.account(ME).balance("USD") == D("10000") - notional * D("0.0005")
    # close it at the bid: realized PnL = (100000 - 100005) * 0.02
    v.submit(req(market(base="2"), side="SELL", product=pid), NOW)
    assert pos.contracts == 0
    assert pos.realized_pnl == D("-0.1")
    assert v.account(ME).hold("USD") == 0


def test_future_margin_insufficient() -> None:
    v, pid = future_venue()
    v.account(ME).set_balance("USD", D("100"))
    with pytest.raises(OrderRejectedError) as exc:
        v.submit(req(limit("1", "100000"), product=pid), NOW)
    assert exc.value.preview_reason == "PREVIEW_INSUFFICIENT_FUNDS_FOR_FUTURES"


def test_future_session_closed() -> None:
    import dataclasses

    v, pid = future_venue()
    v.products[pid] = dataclasses.replace(v.products[pid], session_open=False)
    assert reason_of(v, limit("1", "100000"), product=pid)[0] == "INVALID_FCM_TRADING_SESSION"


def test_take_liquidity_prints_trade_with_maker_side(venue: Venue) -> None:
    venue.take_liquidity("BTC-USD", Side.BUY, Decimal("0.5"), None, NOW)
    trade = venue.trades["BTC-USD"][-1]
    assert trade.side is Side.SELL
    assert venue.last_price["BTC-USD"] == D("101.00")


def test_future_position_flips_and_realizes() -> None:
    v, pid = future_venue()
    v.submit(req(market(base="1"), product=pid), NOW)  # long 1 @ 100005
    v.set_liquidity(pid, bids=[(D("100100"), D("50"))], asks=[(D("100105"), D("50"))], now_ns=NOW)
    v.submit(req(market(base="3"), side="SELL", product=pid), NOW)  # sell 3 @ 100100: close 1, short 2
    pos = v.account(ME).positions[pid]
    assert pos.contracts == D(-2)
    assert pos.avg_entry_price == D("100100")
    assert pos.realized_pnl == (D("100100") - D("100005")) * D("0.01")
    assert pos.margin_held == D("100100") * D("0.02") * D("0.289")


def test_bip_funding_longs_pay_shorts() -> None:
    from shared.venue.futures import apply_funding

    v = Venue(default_products(NOW), seed=1)
    v.account(ME).set_balance("USD", D("10000"))
    v.set_liquidity("BIP-20DEC30-CDE", bids=[], asks=[(D("100000"), D("10"))], now_ns=NOW)
    v.submit(req(market(base="2"), product="BIP-20DEC30-CDE"), NOW)
    before = v.account(ME).balance("USD")
    paid = apply_funding(v, "BIP-20DEC30-CDE", D("100000"), D("0.0001"))
    assert paid[ME] == D("-0.2")  # 2 × 0.01 × 100000 × 0.0001
    assert v.account(ME).balance("USD") == before - D("0.2")


def test_expiry_settles_positions_and_orders() -> None:
    from shared.venue.futures import settle_expired

    v, pid = future_venue()
    v.submit(req(market(base="2"), product=pid), NOW)  # long 2 @ 100005
    resting = v.submit(req(limit("1", "90000"), product=pid), NOW).order
    realized = settle_expired(v, pid, D("101005"), NOW + 1)
    assert realized[ME] == D("1000") * D("0.02")
    assert resting.status is OrderStatus.EXPIRED
    assert v.account(ME).positions[pid].contracts == 0
    assert v.account(ME).hold("USD") == 0
