"""Property tests: whatever sequence of orders arrives, the book never stays crossed, holds never go
negative, funds are never overdrawn, and a finished order holds nothing."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import OrderRejectedError
from shared.messages import Side
from shared.venue import CoinbaseOrderStatus as OrderStatus
from shared.venue import Venue, default_products, parse_order_request

from .helpers import ME, NOW, D

PRICES = st.integers(min_value=9_500, max_value=10_500).map(lambda c: Decimal(c) / 100)
SIZES = st.integers(min_value=1, max_value=300).map(lambda c: Decimal(c) / 100)

order_st = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(["BUY", "SELL"]), SIZES, PRICES, st.booleans()),
    st.tuples(st.just("market"), st.sampled_from(["BUY", "SELL"]), SIZES, PRICES, st.booleans()),
    st.tuples(st.just("ioc"), st.sampled_from(["BUY", "SELL"]), SIZES, PRICES, st.booleans()),
    st.tuples(st.just("fok"), st.sampled_from(["BUY", "SELL"]), SIZES, PRICES, st.booleans()),
    st.tuples(st.just("cancel"), st.sampled_from(["BUY", "SELL"]), SIZES, PRICES, st.booleans()),
    st.tuples(st.just("print"), st.sampled_from(["BUY", "SELL"]), SIZES, PRICES, st.booleans()),
)


def _config(kind: str, size: Decimal, price: Decimal, post_only: bool) -> dict[str, object]:
    if kind == "limit":
        return {
            "limit_limit_gtc": {"base_size": str(size), "limit_price": str(price), "post_only": post_only}
        }
    if kind == "market":
        return {"market_market_ioc": {"base_size": str(size)}}
    if kind == "ioc":
        return {"sor_limit_ioc": {"base_size": str(size), "limit_price": str(price)}}
    return {"limit_limit_fok": {"base_size": str(size), "limit_price": str(price)}}


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(order_st, min_size=1, max_size=25))
def test_invariants_hold_for_any_order_sequence(ops: list[tuple[str, str, Decimal, Decimal, bool]]) -> None:
    venue = Venue(default_products(NOW), seed=1)
    acct = venue.account(ME)
    acct.set_balance("USD", D("500"))
    acct.set_balance("BTC", D("3"))
    venue.set_liquidity(
        "BTC-USD",
        bids=[(D("99.00"), D("1")), (D("98.00"), D("1"))],
        asks=[(D("101.00"), D("1")), (D("102.00"), D("1"))],
        now_ns=NOW,
    )
    for i, (kind, side, size, price, post_only) in enumerate(ops):
        now = NOW + i
        if kind == "cancel":
            open_ids = [o.order_id for o in venue.orders.values() if o.status is OrderStatus.OPEN]
            if open_ids:
                assert venue.cancel(open_ids[0], now) is None
        elif kind == "print":
            venue.take_liquidity("BTC-USD", Side(side), size, None, now)
        else:
            body = {
                "client_order_id": f"c{i}",
                "product_id": "BTC-USD",
                "side": side,
                "order_configuration": _config(kind, size, price, post_only),
            }
            with contextlib.suppress(OrderRejectedError):
                venue.submit(parse_order_request(body, account_id=ME), now)
        book = venue.books["BTC-USD"]
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, "book left crossed"
        for currency in ("USD", "BTC"):
            assert acct.hold(currency) >= 0
            assert acct.balance(currency) >= 0, f"{currency} overdrawn"
        for order in venue.orders.values():
            if order.status.is_terminal:
                assert order.hold_remaining == 0
            assert order.filled_size <= (order.request.base_size or order.filled_size)
    open_holds = sum((o.hold_remaining for o in venue.orders.values() if o.hold_currency == "USD"), D(0))
    assert abs(acct.hold("USD") - open_holds) < D("0.000001")


FUT_PRICES = st.integers(min_value=19_000, max_value=21_000).map(lambda c: Decimal(c) * 5)
CONTRACTS = st.integers(min_value=1, max_value=12).map(Decimal)
fut_st = st.tuples(
    st.sampled_from(["limit", "market", "cancel", "print"]),
    st.sampled_from(["BUY", "SELL"]),
    CONTRACTS,
    FUT_PRICES,
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fut_st, min_size=1, max_size=25))
def test_futures_margin_invariants(ops: list[tuple[str, str, Decimal, Decimal]]) -> None:
    venue = Venue(default_products(NOW), seed=1)
    pid = next(p for p in venue.products if p.startswith("BIT-"))
    acct = venue.account(ME)
    acct.set_balance("USD", D("5000"))
    venue.set_liquidity(pid, bids=[(D("99995"), D("5"))], asks=[(D("100005"), D("5"))], now_ns=NOW)
    for i, (kind, side, size, price) in enumerate(ops):
        now = NOW + i
        if kind == "cancel":
            open_ids = [o.order_id for o in venue.orders.values() if o.status is OrderStatus.OPEN]
            if open_ids:
                venue.cancel(open_ids[-1], now)
        elif kind == "print":
            venue.take_liquidity(pid, Side(side), size, None, now)
        else:
            config: dict[str, object] = (
                {"limit_limit_gtc": {"base_size": str(size), "limit_price": str(price)}}
                if kind == "limit"
                else {"market_market_ioc": {"base_size": str(size)}}
            )
            body = {
                "client_order_id": f"c{i}",
                "product_id": pid,
                "side": side,
                "order_configuration": config,
            }
            with contextlib.suppress(OrderRejectedError):
                venue.submit(parse_order_request(body, account_id=ME), now)
        book = venue.books[pid]
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        assert acct.hold("USD") >= 0
        pos = acct.positions.get(pid)
        if pos is not None:
            expected = abs(pos.contracts) * D("0.01") * pos.avg_entry_price
            assert pos.margin_held == expected * (D("0.234375") if pos.contracts > 0 else D("0.289"))
        order_holds = sum((o.hold_remaining for o in venue.orders.values()), D(0))
        margin = pos.margin_held if pos is not None else D(0)
        assert abs(acct.hold("USD") - order_holds - margin) < D("0.000001")
