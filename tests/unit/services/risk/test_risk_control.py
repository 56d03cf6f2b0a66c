"""Kill-switch side effects and the replay counter."""

from __future__ import annotations

import json
from decimal import Decimal

from services.risk.control import cancels, flatten_id, flatten_intents, status_detail
from shared.bus import Replay
from shared.messages import OrderType, Position, Purpose, RiskState, Side

D = Decimal


def position(qty: str, *, sid: str = "s1", product: str = "BTC-USD", venue: str = "coinbase") -> Position:
    return Position(
        strategy_id=sid,
        venue=venue,
        product_id=product,
        quantity=D(qty),
        average_price=D("100"),
        realized_pnl=D(0),
        fees=D(0),
        mark=D("101"),
        updated_ns=1,
    )


def test_flatten_closes_every_open_position_on_served_venues() -> None:
    positions = [
        position("0.5"),
        position("-2", product="ETH-USD"),
        position("0", product="SOL-USD"),
        position("1", venue="elsewhere"),
        position("1", sid="bad.id"),
        position("-0.1", sid="s2"),
    ]
    intents = flatten_intents(positions, ["coinbase"], "drill", 42)
    assert [(i.strategy_id, i.product_id, i.side, i.size, i.leg) for i in intents] == [
        ("s1", "BTC-USD", Side.SELL, D("0.5"), 0),
        ("s1", "ETH-USD", Side.BUY, D("2"), 1),
        ("s2", "BTC-USD", Side.BUY, D("0.1"), 0),
    ]
    assert all(i.purpose is Purpose.FLATTEN and i.order_type is OrderType.MARKET for i in intents)
    assert intents[0].client_order_id == flatten_id("s1", 42, 0)
    assert flatten_intents(positions, ["coinbase"], "drill", 42) == intents  # a retried halt repeats ids
    assert (
        flatten_intents(positions, ["coinbase"], "drill", 43)[0].client_order_id != intents[0].client_order_id
    )


def test_cancels_go_to_every_venue_and_cancel_everything() -> None:
    requests = cancels(["b", "a"], "halt", 7)
    assert [(r.venue, r.client_order_ids, r.strategy_id) for r in requests] == [("a", (), ""), ("b", (), "")]
    assert {r.epoch for r in cancels(["b", "a"], "halt", 7, epoch=4)} == {4}


def test_flatten_intents_are_dated_when_planned_not_when_the_halt_was_asked() -> None:
    first = flatten_intents([position("0.5")], ["coinbase"], "drill", 42, created_ns=1_000)
    again = flatten_intents([position("0.5")], ["coinbase"], "drill", 42, created_ns=2_000)
    assert (first[0].created_ns, again[0].created_ns) == (1_000, 2_000)
    assert first[0].client_order_id == again[0].client_order_id


def test_status_is_json_for_the_cli() -> None:
    body = json.loads(status_detail(RiskState(kill_switch=True, kill_reason="x", updated_ns=1), {"n": 1}))
    assert body["kill_switch"] is True
    assert body["breaker"] == "closed"
    assert body["n"] == 1


def test_replay_tells_history_from_live() -> None:
    replay = Replay("FILLS", 2)
    assert not replay.live
    assert replay.step() is False
    assert replay.step() is False
    assert replay.live
    assert replay.step() is True
    assert replay.progress() == "2/2"
    assert Replay("EMPTY", 0).live
