"""The runner's events: fills and order states, exits, timeouts, warm-up, bars, halt and resolve."""

from __future__ import annotations

from typing import Any

import pytest

from shared.messages.base import Side
from shared.messages.orders import Liquidity, OrderStatus, Purpose, TimeInForce
from shared.sdk import Context, OrderState
from tests.unit.shared.sdk.helpers_runtime import (
    SECOND,
    T0,
    D,
    P,
    bar,
    do,
    fill,
    opened,
    probe_of,
    runner,
    seen,
    tick,
)


def test_a_fill_moves_the_position_once_per_trade_id_then_on_fill_and_on_order() -> None:
    r = runner()
    view, _ = do(r, lambda ctx: ctx.buy(P, D(1)))
    out = fill(r, view.id, "0.4", trade="t1")
    assert (out.reason, out.changed) == ("fill", True)
    assert r.positions == ((P, D("0.4")),)
    assert seen(r)[-2:] == [("fill", "BUY:0.4"), ("order", "partially_filled")]
    assert fill(r, view.id, "0.4", trade="t1").reason == "duplicate_fill"
    assert r.positions == ((P, D("0.4")),)
    fill(r, view.id, "0.6", trade="t2")
    assert seen(r)[-2:] == [("fill", "BUY:0.6"), ("order", "filled")]
    r.on_order_update(view.id, OrderStatus.FILLED, D(1), D(100))  # already filled: no second on_order
    assert seen(r)[-1] == ("order", "filled")
    assert r.state == "in_position"


def test_order_states_only_move_forward_and_terminal_reasons_are_kept() -> None:
    r = runner()
    view, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99)))
    r.on_order_update(view.id, OrderStatus.PARTIALLY_FILLED, D("0.2"), D(99))
    r.on_order_update(view.id, OrderStatus.ACCEPTED, D(0), None)  # late: ignored
    r.on_order_update(view.id, OrderStatus.UNKNOWN, D(0), None)
    out = r.on_order_update(view.id, OrderStatus.CANCELLED, D("0.2"), D(99), "USER_CANCELLED")
    assert out.reason == "order_cancelled"
    states = [d for kind, d in seen(r) if kind == "order"]
    assert states == ["partially_filled", "cancelled"]
    found, _ = do(r, lambda ctx: ctx.order(view.id))
    assert (found.state, found.filled, found.average_price, found.reason) == (
        OrderState.CANCELLED, D("0.2"), D(99), "USER_CANCELLED"
    )  # fmt: skip
    assert r.positions == ((P, D(0)),)  # the position waits for the fill itself
    fill(r, view.id, "0.2", "99")
    assert r.positions == ((P, D("0.2")),)
    assert seen(r)[-1] == ("fill", "BUY:0.2")


def test_refused_and_unsendable_orders_end_at_once_and_a_repeat_is_ignored() -> None:
    r = runner()
    do(r, lambda ctx: ctx.buy(P, D(1)))
    do(r, lambda ctx: ctx.buy(P, D(1)))
    out = r.on_refused(1, "KILL_SWITCH")
    assert (out.reason, out.changed) == ("order_refused:KILL_SWITCH", True)
    assert not r.on_refused(1, "KILL_SWITCH").changed
    assert r.on_unsendable(2, "below_min_notional").reason == "order_below_min_notional"
    assert [d for kind, d in seen(r) if kind == "order"] == ["refused", "unsendable"]
    assert r.state == "flat"
    assert not r.on_timer(T0 + 60 * SECOND).changed


def test_a_fill_of_an_unknown_order_moves_the_position_and_goes_reconciling() -> None:
    r = runner()
    out = r.on_fill("x", "not-ours", D(100), D(1), D(0), Liquidity.TAKER, T0, side=Side.SELL, product_id=P)
    assert out.reason == "fill_for_unknown_order"
    assert (r.state, r.positions) == ("reconciling", ((P, D(-1)),))


def test_only_an_order_that_should_have_ended_times_out() -> None:
    r = runner()
    resting, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99)))
    r.on_order_update(resting.id, OrderStatus.ACCEPTED, D(0), None)
    assert r.state == "flat"  # a resting quote leaves the instance at rest
    assert not r.on_timer(T0 + 3600 * SECOND).changed
    ioc, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99), time_in_force=TimeInForce.IOC))
    r.on_order_update(ioc.id, OrderStatus.ACCEPTED, D(0), None)
    assert r.state == "entering"
    assert not r.on_timer(T0 + 5 * SECOND).changed
    out = r.on_timer(T0 + 6 * SECOND)
    assert (out.reason, r.state) == ("execution_timeout", "reconciling")
    refused, out = do(r, lambda ctx: ctx.buy(P, D(1)))
    assert refused is None
    assert out.logs[0].fields["reason"] == "reconciling:execution_timeout"


def test_an_unacknowledged_gtc_order_times_out() -> None:
    r = runner()
    do(r, lambda ctx: ctx.sell(P, D(1), limit=D(101)))
    assert r.on_timer(T0 + 6 * SECOND).reason == "execution_timeout"


def test_a_stop_loss_from_ticks_fires_once_cancelling_the_products_orders() -> None:
    r = runner()
    opened(r, "1")

    def exits_and_quote(ctx: Context) -> Any:
        ctx.exits(P, stop_loss=D(95), take_profit=D(110))
        return ctx.sell(P, D(1), limit=D(109))

    quote, _ = do(r, exits_and_quote)
    assert r.on_tick(tick(96)).orders == ()
    out = r.on_tick(tick(94))
    assert out.cancels == (quote.id,)
    (req,) = out.orders
    assert (req.side, req.size, req.purpose, req.reason) == (Side.SELL, D(1), Purpose.EXIT, "stop_loss")
    assert [line.fields["exit"] for line in out.logs] == ["stop_loss"]
    assert r.on_tick(tick(90)).orders == ()  # fired once


def test_an_exit_clears_when_flat_and_rearms_if_its_order_ends_with_the_position_open() -> None:
    r = runner()
    opened(r, "1")
    do(r, lambda ctx: ctx.exits(P, take_profit=D(110)))
    out = r.on_tick(tick(111))
    (req,) = out.orders
    assert req.reason == "take_profit"
    r.on_refused(req.seq, "STALE")  # the exit did not close anything: armed again
    again = r.on_tick(tick(112))
    assert [o.reason for o in again.orders] == ["take_profit"]
    exit_id = do(r, lambda ctx: ctx.open_orders(P)[0].id)[0]
    fill(r, exit_id, "1", "112")
    assert P not in r.book.exits
    assert r.on_tick(tick(120)).orders == ()


def during_bar(r: Any, action: Any, start: int) -> tuple[Any, Any]:
    """Run `action(ctx)` while the probe handles a flat bar at 100 (for runners without ticks)."""
    probe = probe_of(r)
    results: list[Any] = []
    probe.act = staticmethod(lambda kind, ev, ctx: results.append(action(ctx)) if kind == "bar" else None)
    try:
        out = r.on_bar(bar(100, 100, start=start))
    finally:
        probe.act = None
    return results[0], out


def test_bars_fire_exits_on_their_low_and_high_for_a_short() -> None:
    r = runner(ticks=False, bars_s=60)
    minute = T0 // SECOND
    view, _ = during_bar(r, lambda ctx: ctx.sell(P, D(2)), minute)
    fill(r, view.id, "2")
    during_bar(r, lambda ctx: ctx.exits(P, stop_loss=D(105), take_profit=D(90)), minute + 60)
    assert r.on_bar(bar(95, 104, start=minute + 120)).orders == ()
    out = r.on_bar(bar(89, 99, start=minute + 180))
    assert [(o.side, o.size, o.purpose, o.reason) for o in out.orders] == [
        (Side.BUY, D(2), Purpose.EXIT, "take_profit")
    ]
    assert r.on_bar(bar(80, 99, start=minute + 240)).orders == ()


def test_bars_are_cut_on_exchange_time_and_close_on_the_first_tick_of_a_later_bucket() -> None:
    r = runner(ticks=False, bars_s=60)
    start = T0 // SECOND // 60 * 60
    base = start * SECOND
    assert not r.feed(tick(100, base))
    assert not r.feed(tick(103, base + 10 * SECOND))
    assert not r.feed(tick(98, base + 20 * SECOND))
    assert not r.feed(tick(101, base + 59 * SECOND))
    assert r.feed(tick(105, base + 61 * SECOND))
    out = r.flush(base + 62 * SECOND)
    assert seen(r) == [("bar", f"{start}:100/103/98/101")]
    assert out.orders == ()
    assert not r.feed(tick(90, base + 30 * SECOND))  # older than the bar being built: ignored
    assert r.feed(tick(106, base + 300 * SECOND))  # a gap makes no empty bars
    r.flush(base + 300 * SECOND)
    assert seen(r)[-1] == ("bar", f"{start + 60}:105/105/105/105")


def test_warm_up_folds_bars_in_and_refuses_orders() -> None:
    r = runner(ticks=False, bars_s=60)
    probe = probe_of(r)
    tried: list[object] = []
    probe.act = staticmethod(lambda kind, ev, ctx: tried.append(ctx.buy(P, D(1))) if kind == "bar" else None)
    used = r.warm([bar(99, 100, start=T0 // SECOND + 60 * i) for i in range(3)] + [bar(1, 2, product="X")])
    assert used == 3
    assert tried == [None, None, None]
    assert r.book.next_seq == 1
    assert r.ctx.price(P) == D(100)
    out = r.start(T0 + 300 * SECOND)
    assert ("start", "") in seen(r)
    assert out.orders == ()
    ok = r.on_bar(bar(100, 101, start=T0 // SECOND + 600))
    assert len(ok.orders) == 1


def test_halt_cancels_live_orders_and_refuses_new_ones_until_resolve() -> None:
    r = runner()
    quote, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99)))
    out = r.halt("operator")
    assert (out.cancels, out.reason, r.state) == ((quote.id,), "operator", "halted")
    refused, out = do(r, lambda ctx: ctx.buy(P, D(1)))
    assert refused is None
    assert out.logs[0].fields["reason"] == "halted:operator"
    out = r.resolve((D("0.5"),), "recon")
    assert (out.reason, out.cancels) == ("resolved:recon", (quote.id,))
    assert (r.state, r.positions) == ("in_position", ((P, D("0.5")),))
    assert seen(r)[-1] == ("order", "cancelled")
    assert r.resolve((), "recon").reason == "resolve_needs_positions"


def test_a_strategy_that_raises_is_not_contained() -> None:
    r = runner()

    def boom(ctx: Context) -> None:
        raise ZeroDivisionError("user bug")

    with pytest.raises(ZeroDivisionError, match="user bug"):
        do(r, boom)
