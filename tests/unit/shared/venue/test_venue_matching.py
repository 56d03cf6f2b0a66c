"""Matching: price-time priority, partial fills, time in force, post-only."""

from __future__ import annotations

import pytest

from shared.errors import OrderRejectedError
from shared.messages import Liquidity, Side
from shared.venue import CoinbaseOrderStatus as OrderStatus
from shared.venue import Venue

from .helpers import ME, NOW, D, limit, market, req


def test_market_buy_by_base_walks_levels_as_taker(venue: Venue) -> None:
    result = venue.submit(req(market(base="1.5")), NOW)
    order = result.order
    assert order.status is OrderStatus.FILLED
    assert order.filled_size == D("1.5")
    assert [(f.price, f.size) for f in result.fills] == [(D("101.00"), D("1")), (D("102.00"), D("0.5"))]
    assert all(f.liquidity is Liquidity.TAKER for f in result.fills)
    assert order.filled_value == D("152.00")
    assert order.total_fees == D("152.00") * D("0.009")
    assert venue.account(ME).balance("BTC") == D("3.5")
    assert venue.account(ME).balance("USD") == D("100000") - D("152.00") * D("1.009")
    assert venue.account(ME).hold("USD") == 0


def test_market_buy_by_quote_spends_at_most_quote_including_fee(venue: Venue) -> None:
    result = venue.submit(req(market(quote="50.00")), NOW)
    order = result.order
    assert order.status is OrderStatus.FILLED
    spent = order.filled_value + order.total_fees
    assert spent <= D("50.00")
    assert order.filled_size == D("0.49063380")  # 50 / (101 * 1.009) rounded down to 1e-8
    assert venue.account(ME).hold("USD") == 0


def test_market_sell_hits_bids_and_credits_quote_net_of_fee(venue: Venue) -> None:
    result = venue.submit(req(market(base="1"), side="SELL"), NOW)
    assert result.order.status is OrderStatus.FILLED
    assert result.fills[0].price == D("99.00")
    assert venue.account(ME).balance("USD") == D("100000") + D("99") - D("99") * D("0.009")
    assert venue.account(ME).balance("BTC") == D("1")


def test_limit_rests_then_fills_as_maker_when_market_trades_through(venue: Venue) -> None:
    order = venue.submit(req(limit("0.5", "100.00"), coid="a"), NOW).order
    assert order.status is OrderStatus.OPEN
    assert venue.books["BTC-USD"].best_bid() == D("100.00")
    assert venue.account(ME).hold("USD") == D("100.00") * D("0.5") * D("1.009")
    venue.take_liquidity("BTC-USD", Side.SELL, D("0.3"), None, NOW + 1)
    assert order.status is OrderStatus.OPEN
    assert order.filled_size == D("0.3")
    venue.take_liquidity("BTC-USD", Side.SELL, D("0.3"), None, NOW + 2)
    assert order.status is OrderStatus.FILLED
    fills = [f for f in venue.fills if f.order_id == order.order_id]
    assert [f.liquidity for f in fills] == [Liquidity.MAKER, Liquidity.MAKER]
    assert order.total_fees == D("50.00") * D("0.005")
    assert venue.account(ME).hold("USD") == 0
    assert venue.account(ME).balance("USD") == D("100000") - D("50") - D("0.25")


def test_price_time_priority_fifo_within_level(venue: Venue) -> None:
    first = venue.submit(req(limit("0.1", "100.00"), coid="1"), NOW).order
    second = venue.submit(req(limit("0.1", "100.00"), coid="2"), NOW + 1).order
    better = venue.submit(req(limit("0.1", "100.01"), coid="3"), NOW + 2).order
    venue.take_liquidity("BTC-USD", Side.SELL, D("0.15"), None, NOW + 3)
    assert better.status is OrderStatus.FILLED
    assert first.filled_size == D("0.05")
    assert second.filled_size == 0


def test_aggressive_limit_partially_fills_then_rests_remainder(venue: Venue) -> None:
    result = venue.submit(req(limit("1.5", "101.00")), NOW)
    order = result.order
    assert order.filled_size == D("1")
    assert order.status is OrderStatus.OPEN
    assert venue.books["BTC-USD"].best_bid() == D("101.00")
    assert venue.books["BTC-USD"].best_ask() == D("102.00")


def test_ioc_cancels_remainder(venue: Venue) -> None:
    config = {"sor_limit_ioc": {"base_size": "1.5", "limit_price": "101.00"}}
    order = venue.submit(req(config), NOW).order
    assert order.filled_size == D("1")
    assert order.status is OrderStatus.CANCELLED
    assert venue.account(ME).hold("USD") == 0


def test_fok_fills_whole_or_nothing(venue: Venue) -> None:
    miss = venue.submit(req({"limit_limit_fok": {"base_size": "1.5", "limit_price": "101.00"}}), NOW).order
    assert miss.status is OrderStatus.CANCELLED
    assert miss.filled_size == 0
    hit = venue.submit(req({"limit_limit_fok": {"base_size": "1.5", "limit_price": "102.00"}}), NOW).order
    assert hit.status is OrderStatus.FILLED


def test_post_only_that_would_cross_is_rejected_whole(venue: Venue) -> None:
    with pytest.raises(OrderRejectedError) as exc:
        venue.submit(req(limit("0.1", "101.00", post_only=True)), NOW)
    assert exc.value.reason == "INVALID_LIMIT_PRICE_POST_ONLY"
    assert exc.value.preview_reason == "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"
    assert venue.account(ME).hold("USD") == 0
    assert not venue.orders


def test_post_only_passive_rests(venue: Venue) -> None:
    order = venue.submit(req(limit("0.1", "100.50", post_only=True)), NOW).order
    assert order.status is OrderStatus.OPEN


def test_gtd_expires(venue: Venue) -> None:
    config = {
        "limit_limit_gtd": {"base_size": "0.1", "limit_price": "90.00", "end_time": "2025-11-24T17:00:00Z"}
    }
    order = venue.submit(req(config), NOW).order
    assert order.status is OrderStatus.OPEN
    assert venue.expire(NOW + 7200 * 10**9) == [order]
    assert order.status is OrderStatus.EXPIRED
    assert venue.account(ME).hold("USD") == 0


def test_cancel_releases_hold_and_reports_reasons(venue: Venue) -> None:
    order = venue.submit(req(limit("0.1", "90.00")), NOW).order
    assert venue.cancel(order.order_id, NOW) is None
    assert order.status is OrderStatus.CANCELLED
    assert venue.account(ME).hold("USD") == 0
    assert venue.cancel(order.order_id, NOW) == "DUPLICATE_CANCEL_REQUEST"
    assert venue.cancel("nope", NOW) == "UNKNOWN_CANCEL_ORDER"
    filled = venue.submit(req(market(base="0.1")), NOW).order
    assert venue.cancel(filled.order_id, NOW) == "ORDER_IS_FULLY_FILLED"


def test_self_trade_cancels_taker_remainder(venue: Venue) -> None:
    venue.submit(req(limit("0.1", "100.50"), side="SELL"), NOW)
    taker = venue.submit(req(market(base="0.5")), NOW).order
    assert taker.status is OrderStatus.CANCELLED
    assert taker.filled_size == 0


def test_events_carry_orders_trades_and_absolute_levels(venue: Venue) -> None:
    venue.submit(req(market(base="0.4")), NOW)
    events = venue.drain_events()
    progression = [(o.status, o.filled_size) for o in events.orders]
    assert progression == [
        (OrderStatus.OPEN, 0),
        (OrderStatus.OPEN, D("0.4")),
        (OrderStatus.FILLED, D("0.4")),
    ]
    assert [(t.price, t.size, t.side) for t in events.trades] == [(D("101.00"), D("0.4"), Side.SELL)]
    assert events.book_changes["BTC-USD"] == [(Side.SELL, D("101.00"), D("0.6"))]
    assert venue.drain_events().trades == []


def test_new_liquidity_crossing_a_resting_order_fills_it(venue: Venue) -> None:
    order = venue.submit(req(limit("0.5", "100.00")), NOW).order
    venue.set_liquidity("BTC-USD", bids=[(D("98.00"), D("1"))], asks=[(D("99.95"), D("1"))], now_ns=NOW + 1)
    assert order.status is OrderStatus.FILLED
    assert venue.fills[-1].liquidity is Liquidity.MAKER
    assert venue.fills[-1].price == D("100.00")


def test_same_seed_same_ids() -> None:
    from shared.venue import default_products

    a, b = Venue(default_products(NOW), seed=3), Venue(default_products(NOW), seed=3)
    assert [a.new_id() for _ in range(3)] == [b.new_id() for _ in range(3)]


def test_quote_sized_market_that_exhausts_the_book_is_cancelled_partially_filled(venue: Venue) -> None:
    order = venue.submit(req(market(quote="10000.00")), NOW).order
    assert order.filled_size == D("3")
    assert order.status is OrderStatus.CANCELLED
    assert venue.account(ME).hold("USD") == 0


def test_liquidity_orders_are_not_user_orders(venue: Venue) -> None:
    assert venue.orders == {}
    venue.set_liquidity("BTC-USD", bids=[(D("99.00"), D("1"))], asks=[(D("101.00"), D("1"))], now_ns=NOW)
    assert venue.drain_events().orders == []


def test_self_trade_never_rests_a_crossing_remainder(venue: Venue) -> None:
    venue.submit(req(limit("0.1", "100.00")), NOW)
    crossing = venue.submit(req(limit("0.2", "95.00"), side="SELL"), NOW).order
    assert crossing.status is OrderStatus.CANCELLED
    assert venue.books["BTC-USD"].best_ask() == D("101.00")
