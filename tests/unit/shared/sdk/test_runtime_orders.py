"""The runner's context: order requests on the product's grid, refusals, close, cancel, replace."""

from __future__ import annotations

import pytest

from shared.messages.base import Side
from shared.messages.orders import OrderStatus, OrderType, Purpose, TimeInForce, client_order_id
from shared.messages.strategy import SignalAction
from shared.sdk import Context, OrderState
from tests.unit.shared.sdk.helpers_runtime import SID, D, P, Q, do, fill, info, opened, runner


def test_a_market_buy_is_rounded_down_and_becomes_a_market_ioc_request() -> None:
    r = runner()
    view, out = do(r, lambda ctx: ctx.buy(P, D("0.12345"), tag="entry"), price=100)
    assert view is not None
    assert (view.id, view.size, view.state, view.limit_price) == (
        client_order_id(SID, 1, 1),
        D("0.1234"),
        OrderState.SENT,
        None,
    )
    (req,) = out.orders
    assert (req.seq, req.leg, req.side, req.size, req.purpose, req.reason) == (
        1, 1, Side.BUY, D("0.1234"), Purpose.ENTRY, "entry"
    )  # fmt: skip
    assert (req.order_type, req.time_in_force, req.post_only, req.limit_price) == (
        OrderType.MARKET, TimeInForce.IOC, False, None
    )  # fmt: skip
    assert req.reference_price == D(100)
    assert out.changed


def test_a_post_only_limit_sell_on_the_second_product_keeps_its_price_and_flags() -> None:
    r = runner(products=(P, Q))
    _, out = do(r, lambda ctx: ctx.sell(Q, D(2), limit=D("101.25"), post_only=True, tag="ask"))
    (req,) = out.orders
    assert (req.leg, req.side, req.order_type, req.limit_price, req.time_in_force, req.post_only) == (
        2, Side.SELL, OrderType.LIMIT, D("101.25"), TimeInForce.GTC, True
    )  # fmt: skip
    assert req.reference_price == D("101.25")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": D("100.005")}, "BTC-USD: limit price 100.005 is not on the price grid (increment 0.01)"),
        ({"limit": D(-1)}, "BTC-USD: limit price -1 is not on the price grid"),
        ({"post_only": True}, "BTC-USD: post_only needs a GTC limit order"),
        ({"limit": D(100), "post_only": True, "time_in_force": TimeInForce.IOC}, "post_only needs a GTC"),
        ({"limit": D(100), "time_in_force": TimeInForce.GTD}, "GTD is not supported"),
    ],
)
def test_a_mistaken_request_raises_value_error_naming_the_product(
    kwargs: dict[str, object], message: str
) -> None:
    r = runner()
    with pytest.raises(ValueError, match="BTC-USD") as err:
        do(r, lambda ctx: ctx.buy(P, D(1), **kwargs))  # type: ignore[arg-type]
    assert message in str(err.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda ctx: ctx.buy("DOGE-USD", D(1)),
        lambda ctx: ctx.buy(P, 0.5),
        lambda ctx: ctx.buy(P, D(0)),
    ],
)
def test_unknown_products_float_and_non_positive_sizes_are_mistakes(call: object) -> None:
    with pytest.raises(ValueError, match=r"DOGE-USD|BTC-USD"):
        do(runner(), call)  # type: ignore[arg-type]


def test_below_the_minimum_size_or_notional_nothing_is_sent_and_none_is_returned() -> None:
    r = runner(infos={P: info(P, min_size="0.01", min_notional="10")})
    small, out = do(r, lambda ctx: ctx.buy(P, D("0.00999")), price=2000)
    assert small is None
    assert not out.orders
    assert [line.fields["reason"] for line in out.logs] == ["below_min_size"]
    cheap, out = do(r, lambda ctx: ctx.buy(P, D("0.05")), price=100)  # 5 USD < 10
    assert cheap is None
    assert out.logs[0].fields["reason"] == "below_min_notional"
    assert r.book.next_seq == 1  # no sequence used


def test_close_sells_the_position_from_fills_once_and_is_none_when_flat() -> None:
    r = runner()
    assert do(r, lambda ctx: ctx.close(P))[0] is None
    opened(r, "0.5")
    view, out = do(r, lambda ctx: ctx.close(P))
    assert view is not None
    (req,) = out.orders
    assert (req.side, req.size, req.purpose, req.reason, req.order_type) == (
        Side.SELL, D("0.5"), Purpose.EXIT, "close", OrderType.MARKET
    )  # fmt: skip
    assert do(r, lambda ctx: ctx.close(P))[0] is None  # the first close is still in flight


def test_close_of_a_short_buys_and_an_entry_in_flight_is_not_counted() -> None:
    r = runner()
    opened(r, "-0.3")
    do(r, lambda ctx: ctx.sell(P, D("0.2")))  # adds to the short, not filled yet
    view, out = do(r, lambda ctx: ctx.close(P))
    assert view is not None
    assert [(o.side, o.size, o.purpose) for o in out.orders] == [(Side.BUY, D("0.3"), Purpose.EXIT)]


def test_cancel_asks_for_live_orders_only_and_cancel_all_counts_them() -> None:
    r = runner(products=(P, Q))
    a, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99)))
    b, _ = do(r, lambda ctx: ctx.buy(Q, D(1), limit=D(98)))
    c, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(97)))
    r.on_order_update(c.id, OrderStatus.CANCELLED, D(0), None)
    asked, out = do(r, lambda ctx: (ctx.cancel(c.id), ctx.cancel("nope"), ctx.cancel(a.id)))
    assert asked == (False, False, True)
    assert out.cancels == (a.id,)
    count, out = do(r, lambda ctx: ctx.cancel_all())
    assert count == 2
    assert set(out.cancels) == {a.id, b.id}
    assert not out.orders


def test_replace_cancels_and_sends_the_unfilled_rest_at_the_new_price_with_the_same_flags() -> None:
    r = runner()
    old, _ = do(r, lambda ctx: ctx.sell(P, D(2), limit=D(101), post_only=True, tag="ask"))
    r.on_order_update(old.id, OrderStatus.ACCEPTED, D(0), None)
    fill(r, old.id, "0.5", "101")
    new, out = do(r, lambda ctx: ctx.replace(old.id, limit=D("100.5")))
    assert out.cancels == (old.id,)
    (req,) = out.orders
    assert (req.side, req.size, req.limit_price, req.post_only, req.reason, req.seq) == (
        Side.SELL, D("1.5"), D("100.5"), True, "ask", 2
    )  # fmt: skip
    assert new is not None
    assert new.id == client_order_id(SID, 2, 1)
    market, _ = do(r, lambda ctx: ctx.buy(P, D(1)))
    assert do(r, lambda ctx: ctx.replace(market.id, limit=D(99)))[0] is None  # not a limit order


def test_reads_round_price_passively_and_views_are_copies() -> None:
    r = runner()

    def reads(ctx: Context) -> tuple[object, ...]:
        return (
            ctx.round_price(P, D("100.017"), Side.BUY),
            ctx.round_price(P, D("100.011"), Side.SELL),
            ctx.price(P),
            ctx.position(P),
            ctx.warming_up,
            ctx.costs.taker_bps,
            ctx.product(P).price_increment,
        )

    values, _ = do(r, reads, price="100.5")
    assert values == (D("100.01"), D("100.02"), D("100.5"), D(0), False, D(60), D("0.01"))
    view, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99)))
    found, _ = do(r, lambda ctx: (ctx.order(view.id), ctx.open_orders(P), ctx.open_orders(Q)))
    assert found[0] == view
    assert found[1] == (view,)
    assert found[2] == ()


def test_the_last_non_hold_signal_of_an_event_is_its_decision() -> None:
    r = runner()

    def signals(ctx: Context) -> None:
        ctx.signal(SignalAction.HOLD, reason="quiet")
        ctx.signal(SignalAction.BUY, value=1.5, reason="cheap")
        ctx.signal(SignalAction.HOLD, reason="later")

    _, out = do(r, signals)
    assert out.decision is not None
    assert (out.decision.action, out.decision.value, out.decision.reason) == (SignalAction.BUY, 1.5, "cheap")
    assert out.reason == "cheap"
    _, out = do(r, lambda ctx: ctx.log("hello", n=1))
    assert [(line.event, line.fields) for line in out.logs] == [("hello", {"n": 1})]
