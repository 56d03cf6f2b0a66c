"""Rate limiting, candles/status/futures WS channels, the seeded market model and file replay."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from coinbase.jwt_generator import build_ws_jwt
from requests.exceptions import HTTPError

from services.exchange_sim.feed import Replay
from services.exchange_sim.market_model import PERP_PREMIUM, MarketModel
from shared.throttle import Throttle as TokenBucket
from shared.venue import default_products

from .helpers import SimHandle, recv_json, recv_until, sim_config

NOW = 1_764_000_000 * 1_000_000_000


def test_token_bucket() -> None:
    bucket = TokenBucket(2)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.5)


def test_rate_limited_sim_answers_429(tmp_path: Path) -> None:
    handle = SimHandle(sim_config(tmp_path, feed_enabled=False, rate_limit_private_per_s=2))
    try:
        client = handle.rest()
        statuses = []
        for _ in range(5):
            try:
                client.get_accounts()
                statuses.append(200)
            except HTTPError as exc:
                statuses.append(exc.response.status_code)
        assert statuses[:2] == [200, 200]
        assert 429 in statuses
    finally:
        handle.stop()


def test_same_seed_same_market() -> None:
    products = default_products(NOW)
    a, b, c = MarketModel(products, seed=5), MarketModel(products, seed=5), MarketModel(products, seed=6)
    for _ in range(20):
        a.step(), b.step(), c.step()
    assert a.mids == b.mids
    assert a.mids != c.mids
    assert a.levels("BTC-USD") == b.levels("BTC-USD")
    bip = a.mids["BIP-20DEC30-CDE"] / a.mids["BTC-USD"] - 1
    assert abs(bip - PERP_PREMIUM.mean) < 0.01  # the perp's premium stays near its carry


def test_model_levels_are_on_grid() -> None:
    model = MarketModel(default_products(NOW), seed=1)
    for pid, product in model.products.items():
        bids, asks = model.levels(pid)
        assert bids[0][0] < asks[0][0]
        for price, size in bids + asks:
            assert price % product.price_increment == 0
            assert size % product.base_increment == 0


def test_replay_pins_mids(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text("time,product_id,price\n100,BTC-USD,50000\n101,BTC-USD,51000\n105,BTC-USD,60000\n")
    model = MarketModel(default_products(NOW), seed=1)
    replay = Replay(str(path), speed=2.0)
    replay.advance(0.0, model)
    assert round(model.mids["BTC-USD"]) == 50000
    replay.advance(0.5, model)
    assert round(model.mids["BTC-USD"]) == 51000
    replay.advance(2.0, model)
    assert round(model.mids["BTC-USD"]) == 60000


def test_candles_status_and_futures_balance_channels(sim: SimHandle) -> None:
    with sim.ws() as conn:
        conn.send(json.dumps({"type": "subscribe", "channel": "status", "product_ids": ["BTC-USD"]}))
        status = recv_json(conn)
        assert status["events"][0]["products"][0]["id"] == "BTC-USD"
        conn.send(json.dumps({"type": "subscribe", "channel": "candles", "product_ids": ["BTC-USD"]}))
        sim.control("trade", product_id="BTC-USD", side="BUY", size="0.01")
        candle = recv_until(conn, lambda m: m["channel"] == "candles" and m["events"][0]["candles"])
        assert candle["events"][0]["candles"][0]["product_id"] == "BTC-USD"
    token = build_ws_jwt(sim.sim.key_name, sim.sim.private_key_pem)
    with sim.ws("/user") as conn:
        conn.send(
            json.dumps(
                {"type": "subscribe", "channel": "futures_balance_summary", "product_ids": [], "jwt": token}
            )
        )
        snap = recv_json(conn)
        assert "futures_buying_power" in snap["events"][0]["fcm_balance_summary"]
        pid = next(p for p in sim.sim.venue.products if p.startswith("BIP-"))
        sim.rest().market_order_buy(client_order_id=uuid.uuid4().hex, product_id=pid, base_size="1")
        update = recv_until(conn, lambda m: m["channel"] == "futures_balance_summary")
        assert float(update["events"][0]["fcm_balance_summary"]["initial_margin"]) > 0


def test_idle_connection_without_heartbeats_is_closed(tmp_path: Path) -> None:
    from websockets.exceptions import ConnectionClosed

    handle = SimHandle(sim_config(tmp_path, feed_enabled=False, idle_close_s=0.3))
    try:
        with handle.ws() as quiet, handle.ws() as alive:
            quiet.send(json.dumps({"type": "subscribe", "channel": "ticker", "product_ids": ["ETH-USD"]}))
            alive.send(json.dumps({"type": "subscribe", "channel": "heartbeats", "product_ids": []}))
            deadline_hit = False
            try:
                while True:
                    quiet.recv(timeout=3)
            except ConnectionClosed as exc:
                deadline_hit = exc.rcvd is not None and exc.rcvd.code == 1000
            assert deadline_hit
            assert recv_until(alive, lambda m: m["channel"] == "heartbeats")
    finally:
        handle.stop()
