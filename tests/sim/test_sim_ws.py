"""WebSocket channels with a plain `websockets` 13.1 client and the SDK's WSClient."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from coinbase.jwt_generator import build_ws_jwt
from coinbase.websocket import WSClient
from websockets.exceptions import ConnectionClosed

from .helpers import SimHandle, eventually, recv_json, recv_until


def subscribe(conn: Any, channel: str, products: list[str] | None = None, jwt: str | None = None) -> None:
    msg: dict[str, Any] = {"type": "subscribe", "channel": channel, "product_ids": products or []}
    if jwt:
        msg["jwt"] = jwt
    conn.send(json.dumps(msg))


def test_level2_snapshot_then_updates_with_increasing_sequence(sim: SimHandle) -> None:
    with sim.ws() as conn:
        subscribe(conn, "level2", ["BTC-USD"])
        first = recv_json(conn)
        assert first["channel"] == "l2_data"
        assert first["client_id"] == ""
        assert first["sequence_num"] == 0
        snap = first["events"][0]
        assert snap["type"] == "snapshot"
        assert {u["side"] for u in snap["updates"]} == {"bid", "offer"}
        ack = recv_json(conn)
        assert ack["channel"] == "subscriptions"
        assert ack["events"][0]["subscriptions"] == {"level2": ["BTC-USD"]}
        seqs = [first["sequence_num"], ack["sequence_num"]]
        update = recv_until(conn, lambda m: m["channel"] == "l2_data")
        seqs.append(update["sequence_num"])
        assert update["events"][0]["type"] == "update"
        assert seqs == list(range(len(seqs)))


def test_heartbeats_count_up(sim: SimHandle) -> None:
    with sim.ws() as conn:
        subscribe(conn, "heartbeats")
        beats = [recv_until(conn, lambda m: m["channel"] == "heartbeats") for _ in range(2)]
        counters = [b["events"][0]["heartbeat_counter"] for b in beats]
        assert counters[1] == counters[0] + 1
        assert "+0000 UTC" in beats[0]["events"][0]["current_time"]


def test_ticker_and_market_trades(sim: SimHandle) -> None:
    with sim.ws() as conn:
        subscribe(conn, "ticker", ["ETH-USD"])
        snap = recv_json(conn)
        assert snap["events"][0]["type"] == "snapshot"
        assert snap["events"][0]["tickers"][0]["type"] == "ticker"
        subscribe(conn, "market_trades", ["ETH-USD"])
        sim.control("trade", product_id="ETH-USD", side="BUY", size="0.5")
        trades = recv_until(
            conn, lambda m: m["channel"] == "market_trades" and m["events"][0]["type"] == "update"
        )
        assert trades["events"][0]["trades"][0]["side"] == "SELL"  # maker side of a buy taker


def test_user_channel_needs_jwt(sim: SimHandle) -> None:
    with sim.ws("/user") as conn:
        subscribe(conn, "user", ["BTC-USD"])
        assert recv_json(conn) == {"type": "error", "message": "authentication failure"}


def test_user_channel_snapshot_then_order_updates(sim: SimHandle) -> None:
    token = build_ws_jwt(sim.sim.key_name, sim.sim.private_key_pem)
    with sim.ws("/user") as conn:
        subscribe(conn, "user", ["LTC-USD"], jwt=token)
        snap = recv_json(conn)
        assert snap["channel"] == "user"
        assert snap["events"][0]["type"] == "snapshot"
        resp = sim.rest().limit_order_gtc_buy(
            client_order_id=uuid.uuid4().hex, product_id="LTC-USD", base_size="1", limit_price="1.00"
        )
        update = recv_until(conn, lambda m: m["channel"] == "user" and m["events"][0]["type"] == "update")
        order = update["events"][0]["orders"][0]
        assert order["order_id"] == resp.success_response["order_id"]
        assert (order["status"], order["post_only"], order["leaves_quantity"]) == ("OPEN", "false", "1")
        market = sim.rest().market_order_buy(
            client_order_id=uuid.uuid4().hex, product_id="LTC-USD", base_size="1"
        )
        market_id = market.success_response["order_id"]
        steps: list[dict[str, Any]] = []
        while not steps or steps[-1]["status"] != "FILLED":
            msg = recv_until(conn, lambda m: m["channel"] == "user")
            steps += [o for o in msg["events"][0]["orders"] if o["order_id"] == market_id]
        assert steps[0]["status"] == "OPEN"
        cumulative = [float(o["cumulative_quantity"]) for o in steps]
        assert cumulative == sorted(cumulative)
        assert steps[-1]["cumulative_quantity"] == "1"
        assert steps[-1]["leaves_quantity"] == "0"


def test_user_snapshot_batches_of_fifty(sim: SimHandle) -> None:
    client = sim.rest()
    for _ in range(51):
        client.limit_order_gtc_buy(
            client_order_id=uuid.uuid4().hex, product_id="DOGE-USD", base_size="10", limit_price="0.10000"
        )
    token = build_ws_jwt(sim.sim.key_name, sim.sim.private_key_pem)
    with sim.ws("/user") as conn:
        subscribe(conn, "user", ["DOGE-USD"], jwt=token)
        sizes = [len(recv_json(conn)["events"][0]["orders"]) for _ in range(2)]
        assert sizes == [50, 1]


def test_one_channel_per_message_and_unknown_product(sim: SimHandle) -> None:
    with sim.ws() as conn:
        conn.send(
            json.dumps({"type": "subscribe", "channels": ["level2", "ticker"], "product_ids": ["BTC-USD"]})
        )
        assert recv_json(conn)["type"] == "error"
        subscribe(conn, "ticker", ["NOPE-USD"])
        assert recv_json(conn)["type"] == "error"


def test_no_subscribe_within_deadline_disconnects(sim: SimHandle) -> None:
    with sim.ws() as conn:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as exc:
            conn.recv(timeout=5)
        assert exc.value.rcvd is not None
        assert exc.value.rcvd.code == 1008
        assert time.monotonic() - started < 3


def test_sdk_wsclient_receives_snapshot_and_updates(sim: SimHandle) -> None:
    messages: list[dict[str, Any]] = []
    client = WSClient(
        api_key=sim.sim.key_name,
        api_secret=sim.sim.private_key_pem,
        base_url=sim.sim.ws_url,
        on_message=lambda raw: messages.append(json.loads(raw)),
    )
    client.open()
    try:
        client.subscribe(["BTC-USD"], ["level2", "heartbeats"])
        eventually(lambda: any(m["channel"] == "heartbeats" for m in messages))
        l2 = [m for m in messages if m["channel"] == "l2_data"]
        assert l2[0]["events"][0]["type"] == "snapshot"
        seqs = [m["sequence_num"] for m in messages]
        assert seqs == list(range(len(seqs)))
    finally:
        client.close()
    assert threading.active_count() >= 1


def test_unsubscribe_and_user_endpoint_channels(sim: SimHandle) -> None:
    with sim.ws() as conn:
        subscribe(conn, "heartbeats")
        recv_until(conn, lambda m: m["channel"] == "subscriptions")
        conn.send(json.dumps({"type": "unsubscribe", "channel": "heartbeats"}))
        ack = recv_until(conn, lambda m: m["channel"] == "subscriptions")
        assert ack["events"][0]["subscriptions"] == {}
    with sim.ws("/user") as conn:
        subscribe(conn, "level2", ["BTC-USD"])
        assert recv_json(conn)["type"] == "error"
