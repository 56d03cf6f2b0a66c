"""Each injected fault and the effect a client sees."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests
from coinbase.websocket import WSClient
from requests.exceptions import HTTPError
from websockets.exceptions import ConnectionClosed

from .helpers import SimHandle, eventually, recv_json, recv_until


def coid() -> str:
    return uuid.uuid4().hex


def heartbeat_conn(sim: SimHandle) -> Any:
    conn = sim.ws()
    conn.send(json.dumps({"type": "subscribe", "channel": "heartbeats", "product_ids": []}))
    recv_until(conn, lambda m: m["channel"] == "subscriptions")
    return conn


def drain_until_closed(conn: Any) -> None:
    """Read frames until the server's close surfaces as ConnectionClosed."""
    while True:
        conn.recv(timeout=3)


# -- REST -----------------------------------------------------------------------------------------
def test_429_json_then_recovers(sim: SimHandle) -> None:
    sim.control("rest_fault", status=429, body="json", path="/api/v3/brokerage/accounts")
    client = sim.rest()
    with pytest.raises(HTTPError) as exc:
        client.get_accounts()
    assert exc.value.response.status_code == 429
    assert exc.value.response.json()["errors"][0]["id"] == "rate_limit_exceeded"
    assert client.get_accounts().accounts


def test_429_html_body(sim: SimHandle) -> None:
    sim.control("rest_fault", status=429, body="html")
    with pytest.raises(HTTPError) as exc:
        sim.rest().get_products()
    assert exc.value.response.status_code == 429
    assert exc.value.response.text.startswith("<html>")


def test_403_missing_scopes_and_401(sim: SimHandle) -> None:
    sim.control("rest_fault", status=403, path="/api/v3/brokerage/orders")
    with pytest.raises(HTTPError) as exc:
        sim.rest().market_order_buy(client_order_id=coid(), product_id="BTC-USD", quote_size="10")
    assert "Missing Required Scopes" in str(exc.value)  # the SDK's special-cased message
    sim.control("rest_fault", status=401)
    with pytest.raises(HTTPError) as exc:
        sim.rest().get_accounts()
    assert exc.value.response.text == "Unauthorized"


def test_503_html_gateway_error(sim: SimHandle) -> None:
    sim.control("rest_fault", status=503, body="html", count=2)
    for _ in range(2):
        with pytest.raises(HTTPError) as exc:
            sim.rest().get_best_bid_ask(product_ids=["BTC-USD"])
        assert exc.value.response.status_code == 503
    assert sim.rest().get_best_bid_ask(product_ids=["BTC-USD"]).pricebooks


def test_500_after_accept_order_exists_and_retry_is_idempotent(sim: SimHandle) -> None:
    sim.control("after_accept", mode="500")
    client, cid = sim.rest(), coid()
    with pytest.raises(HTTPError) as exc:
        client.market_order_buy(client_order_id=cid, product_id="BTC-USD", quote_size="20")
    assert exc.value.response.status_code == 500
    retry = client.market_order_buy(client_order_id=cid, product_id="BTC-USD", quote_size="20")
    assert retry.success
    order = client.get_order(retry.success_response["order_id"]).order
    assert order.client_order_id == cid
    assert order.status == "FILLED"
    matching = [o for o in client.list_orders(product_ids=["BTC-USD"]).orders if o.client_order_id == cid]
    assert len(matching) == 1


def test_timeout_after_accept(sim: SimHandle) -> None:
    sim.control("after_accept", mode="timeout", delay_s=1.0)
    client, cid = sim.rest(timeout=0.3), coid()
    with pytest.raises(requests.exceptions.Timeout):
        client.limit_order_gtc_buy(
            client_order_id=cid, product_id="BTC-USD", base_size="0.001", limit_price="1000.00"
        )
    orders = eventually(
        lambda: [o for o in sim.rest().list_orders(order_status=["OPEN"]).orders if o.client_order_id == cid]
    )
    assert orders[0].status == "OPEN"


def test_rest_timeout_before_handling(sim: SimHandle) -> None:
    sim.control("rest_fault", status=504, body="timeout", delay_s=1.0, path="/api/v3/brokerage/accounts")
    with pytest.raises(requests.exceptions.Timeout):
        sim.rest(timeout=0.3).get_accounts()


def test_added_latency(sim: SimHandle) -> None:
    sim.control("latency", ms=300)
    started = time.monotonic()
    sim.rest().get_unix_time()
    assert time.monotonic() - started >= 0.3


def test_forced_reject_and_balances(sim: SimHandle) -> None:
    client = sim.rest()
    sim.control("reject", reason="PRODUCT_TRADING_HALTED")
    halted = client.market_order_buy(client_order_id=coid(), product_id="BTC-USD", quote_size="10")
    assert halted.error_response["new_order_failure_reason"] == "PRODUCT_TRADING_HALTED"
    sim.control("balances", USD="5")
    poor = client.market_order_buy(client_order_id=coid(), product_id="BTC-USD", quote_size="10")
    assert poor.error_response["error"] == "INSUFFICIENT_FUND"
    assert poor.error_response["preview_failure_reason"] == "PREVIEW_INSUFFICIENT_FUND"
    sim.control("balances", USD="100000")


def test_cancel_race_reports_success_but_order_fills(sim: SimHandle) -> None:
    sim.control("book", product_id="LTC-USD", bids=[["80.00", "10"]], asks=[["90.00", "10"]])
    client = sim.rest()
    resp = client.limit_order_gtc_buy(
        client_order_id=coid(), product_id="LTC-USD", base_size="1", limit_price="85.00"
    )
    order_id = resp.success_response["order_id"]
    sim.control("cancel_race")
    result = client.cancel_orders(order_ids=[order_id]).to_dict()["results"][0]
    assert result["success"] is True
    assert client.get_order(order_id).order.status == "FILLED"


def test_late_fills_are_listed_after_their_order_is_done(sim: SimHandle) -> None:
    sim.control("book", product_id="LTC-USD", bids=[["80.00", "10"]], asks=[["90.00", "1"], ["91.00", "10"]])
    sim.control("late_fills", delay_s=1.0, count=1)
    client = sim.rest()
    resp = client.market_order_buy(client_order_id=coid(), product_id="LTC-USD", base_size="2")
    order_id = resp.success_response["order_id"]
    order = client.get_order(order_id).order
    assert (order.status, order.filled_size, order.number_of_fills) == ("FILLED", "2", "2")
    # Only the first of the order's two fills is held back; the second is listed at once.
    listed = client.get_fills(order_ids=[order_id]).fills
    assert [(f.price, f.size) for f in listed] == [("91", "1")]
    both = eventually(lambda: [f for f in client.get_fills(order_ids=[order_id]).fills if f.price == "90"])
    late = both[0]
    assert late.sequence_timestamp == late.trade_time  # stamped when it happened, not when listed
    assert late.sequence_timestamp <= listed[0].sequence_timestamp
    assert len(client.get_fills(order_ids=[order_id]).fills) == 2
    assert sim.raw("POST", "/_sim/late_fills", json={"count": 0}).status_code == 400


def test_control_state_and_unknown_action(sim: SimHandle) -> None:
    state = sim.raw("GET", "/_sim/state").json()
    assert "USD" in state["balances"]
    assert sim.raw("POST", "/_sim/nope", json={}).status_code == 400


# -- WebSocket ------------------------------------------------------------------------------------
def test_sequence_gap(sim: SimHandle) -> None:
    with heartbeat_conn(sim) as conn:
        before = recv_json(conn)["sequence_num"]
        sim.control("ws_gap", skip=3)
        after = recv_json(conn)["sequence_num"]
        assert after == before + 4


def test_out_of_order_message(sim: SimHandle) -> None:
    with heartbeat_conn(sim) as conn:
        recv_json(conn)
        sim.control("ws_out_of_order")
        first, second = recv_json(conn)["sequence_num"], recv_json(conn)["sequence_num"]
        assert second == first - 1


def test_heartbeats_stall_and_resume(sim: SimHandle) -> None:
    with heartbeat_conn(sim) as conn:
        recv_json(conn)
        sim.control("heartbeats", paused=True)
        while True:  # drain one that may already be queued
            try:
                conn.recv(timeout=0.7)
            except TimeoutError:
                break
        sim.control("heartbeats", paused=False)
        assert recv_json(conn)["channel"] == "heartbeats"


@pytest.mark.parametrize("code", [1000, 1001, 1011])
def test_server_close_codes(sim: SimHandle, code: int) -> None:
    with heartbeat_conn(sim) as conn:
        sim.control("ws_close", code=code)
        with pytest.raises(ConnectionClosed) as exc:
            drain_until_closed(conn)
        assert exc.value.rcvd is not None
        assert exc.value.rcvd.code == code


def test_malformed_frame(sim: SimHandle) -> None:
    with heartbeat_conn(sim) as conn:
        sim.control("ws_malformed")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            raw = conn.recv(timeout=3)
            try:
                json.loads(raw)
            except json.JSONDecodeError:
                return
        pytest.fail("no malformed frame")


def test_oversized_level2_snapshot(sim: SimHandle) -> None:
    sim.control("oversize_l2", bytes=5_000_000)
    with sim.ws(max_size=None) as conn:
        conn.send(json.dumps({"type": "subscribe", "channel": "level2", "product_ids": ["BTC-USD"]}))
        raw = conn.recv(timeout=10)
        assert len(raw) > 4_500_000
    sim.control("oversize_l2", bytes=5_000_000)
    with sim.ws(max_size=1 << 20) as small:  # websockets' default 1 MiB limit: ccxt#23597's failure
        small.send(json.dumps({"type": "subscribe", "channel": "level2", "product_ids": ["BTC-USD"]}))
        with pytest.raises(ConnectionClosed) as exc:
            small.recv(timeout=10)
        assert exc.value.sent is not None
        assert exc.value.sent.code == 1009


def _sdk_client(sim: SimHandle, sink: list[dict[str, Any]], closed: list[bool]) -> WSClient:
    return WSClient(
        api_key=sim.sim.key_name,
        api_secret=sim.sim.private_key_pem,
        base_url=sim.sim.ws_url,
        on_message=lambda raw: sink.append(json.loads(raw)),
        on_close=lambda: closed.append(True),
    )


def test_sdk_stops_silently_on_clean_close_1001(sim: SimHandle) -> None:
    messages: list[dict[str, Any]] = []
    closed: list[bool] = []
    client = _sdk_client(sim, messages, closed)
    client.open()
    client.heartbeats()
    eventually(lambda: any(m["channel"] == "heartbeats" for m in messages))
    sim.control("ws_close", code=1001)
    eventually(lambda: sim.raw("GET", "/_sim/state").json()["connections"] == 0)
    count = len(messages)
    time.sleep(0.6)  # three heartbeat periods: a live client would have received some
    assert len(messages) == count
    assert closed == []


def test_sdk_reconnects_and_resubscribes_on_1011(sim: SimHandle) -> None:
    messages: list[dict[str, Any]] = []
    client = _sdk_client(sim, messages, [])
    client.open()
    try:
        client.level2(["BTC-USD"])
        eventually(lambda: messages)
        sim.control("ws_close", code=1011)
        mark = len(messages)
        snap = eventually(
            lambda: [
                m
                for m in messages[mark:]
                if m["channel"] == "l2_data" and m["events"][0]["type"] == "snapshot"
            ],
            timeout=8,
        )
        assert snap[0]["sequence_num"] == 0
    finally:
        client.close()
