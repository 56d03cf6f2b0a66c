"""The runner's snapshot: the book always comes back, the strategy's state only into the same
code and params, and an order sequence is never used twice."""

from __future__ import annotations

import msgspec

from shared.messages.orders import OrderStatus, client_order_id
from shared.sdk import Context, OrderState, OrderView
from shared.sdk.book import KEEP_TERMINAL, SdkSnapshot
from shared.sdk.runtime import Runner
from shared.strategies import CostModel
from tests.unit.shared.sdk.helpers_runtime import (
    SECOND,
    SID,
    T0,
    D,
    P,
    ProbeParams,
    do,
    fill,
    info,
    opened,
    probe_of,
    runner,
    seen,
    tick,
)


def restarted(r: Runner, params: ProbeParams | None = None) -> Runner:
    """The runner a new worker builds from `r`'s snapshot (through msgpack, as KV stores it)."""
    blob = msgspec.msgpack.encode(r.snapshot())
    snap = msgspec.msgpack.decode(blob, type=SdkSnapshot)
    probe = probe_of(r)(params or r.strategy.params)
    return Runner(SID, probe, {P: info(P)}, CostModel(taker_bps=D(60)), 5 * SECOND, snap)


def test_the_book_and_the_state_come_back_under_the_same_fingerprint() -> None:
    r = runner(ticks=True, bars_s=60)
    opened(r, "0.5")

    def protect(ctx: Context) -> OrderView | None:
        ctx.exits(P, stop_loss=D(90))
        return ctx.sell(P, D("0.5"), limit=D(105))

    quote, _ = do(r, protect)
    back = restarted(r)
    assert back.restored_warm
    assert seen(back) == seen(r)
    assert back.positions == ((P, D("0.5")),)
    assert back.book.next_seq == 3
    assert back.seq_of(quote.id) == 2
    assert back.book.exits[P].stop_loss == D(90)
    assert back.book.bars[P].close == D(100)
    assert back.state == "exiting"  # the take-profit quote was never acknowledged
    back.on_order_update(quote.id, OrderStatus.ACCEPTED, D(0), None)
    assert back.state == "in_position"


def test_changed_params_drop_the_state_but_keep_the_book_and_the_sequence() -> None:
    r = runner()
    opened(r, "0.5")
    back = restarted(r, ProbeParams(label="v2"))
    assert not back.restored_warm
    assert seen(back) == []
    assert back.positions == ((P, D("0.5")),)
    view, out = do(back, lambda ctx: ctx.buy(P, D(1)))
    assert view.id == client_order_id(SID, 2, 1)
    assert out.orders[0].seq == 2


def test_a_snapshot_is_a_copy_and_sequence_only_keeps_just_the_sequence() -> None:
    r = runner()
    opened(r, "0.5")
    snap = r.snapshot()
    fill(r, client_order_id(SID, 1, 1), "0.1", trade="late")
    assert snap.book.positions[P] == D("0.5")
    retired = snap.sequence_only()
    assert (retired.book.next_seq, retired.book.orders, retired.state) == (2, [], b"")
    fresh = Runner(SID, probe_of(r)(ProbeParams()), {P: info(P)}, CostModel(taker_bps=D(0)), SECOND, retired)
    assert not fresh.restored_warm
    assert fresh.positions == ((P, D(0)),)
    view, _ = do(fresh, lambda ctx: ctx.buy(P, D(1)))
    assert view.id == client_order_id(SID, 2, 1)


def test_old_terminal_orders_are_forgotten_but_the_sequence_goes_on() -> None:
    r = runner()
    for i in range(KEEP_TERMINAL + 6):
        view, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99)), ts_ns=T0 + i)
        r.on_order_update(view.id, OrderStatus.CANCELLED, D(0), None)
    live, _ = do(r, lambda ctx: ctx.buy(P, D(1), limit=D(99)))
    assert len(r.book.orders) == KEEP_TERMINAL + 1
    assert r.seq_of(client_order_id(SID, 1, 1)) is None
    assert r.seq_of(live.id) == KEEP_TERMINAL + 7
    back = restarted(r)
    assert back.book.next_seq == KEEP_TERMINAL + 8
    assert back.ledger.get(live.id) is not None
    assert back.ledger.get(live.id).state is OrderState.SENT  # type: ignore[union-attr]


def test_a_duplicate_fill_after_a_restart_is_still_dropped() -> None:
    r = runner()
    order_id = opened(r, "0.5")
    back = restarted(r)
    assert fill(back, order_id, "0.5", "100").reason == "duplicate_fill"
    assert back.positions == ((P, D("0.5")),)
    assert back.on_tick(tick(101)).orders == ()
