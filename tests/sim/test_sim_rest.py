"""The real coinbase-advanced-py RESTClient against the simulator over TLS."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from requests.exceptions import HTTPError

from services.exchange_sim.rest_accounts import account_uuid

from .helpers import SimHandle, eventually

D = Decimal


def coid() -> str:
    return uuid.uuid4().hex


def test_health_and_time(sim: SimHandle) -> None:
    assert sim.raw("GET", "/health").json() == {"status": "ok"}
    assert abs(int(sim.rest().get_unix_time().epoch_seconds) - time.time()) < 5


def test_list_products_spot_and_nano_futures(sim: SimHandle) -> None:
    products = {p["product_id"]: p for p in sim.rest().get_products().to_dict()["products"]}
    btc = products["BTC-USD"]
    assert (btc["base_increment"], btc["quote_increment"], btc["product_type"]) == (
        "0.00000001",
        "0.01",
        "SPOT",
    )
    bit = next(p for pid, p in products.items() if pid.startswith("BIT-") and pid.endswith("-CDE"))
    assert (bit["base_increment"], bit["price_increment"], bit["product_type"]) == ("1", "5", "FUTURE")
    assert bit["future_product_details"]["contract_size"] == "0.01"
    bip = products["BIP-20DEC30-CDE"]
    assert bip["future_product_details"]["funding_rate"] != ""
    futures = sim.rest().get_products(product_type="FUTURE").to_dict()["products"]
    assert {p["product_type"] for p in futures} == {"FUTURE"}
    assert sim.rest().get_public_products().num_products == len(products)


def test_unknown_product_is_404_with_coinbase_body(sim: SimHandle) -> None:
    with pytest.raises(HTTPError) as exc:
        sim.rest().get_product("NOPE-USD")
    assert exc.value.response.status_code == 404
    assert exc.value.response.json()["error"] == "NOT_FOUND"
    assert sim.rest().get_product("ETH-USD").product_id == "ETH-USD"


def test_market_order_filled_with_taker_fee(sim: SimHandle) -> None:
    client = sim.rest()
    resp = client.market_order_buy(client_order_id=coid(), product_id="BTC-USD", quote_size="100")
    assert resp.success
    order_id = resp.success_response["order_id"]
    order = client.get_order(order_id).order.to_dict()
    assert order["status"] == "FILLED"
    filled_value, fees = D(order["filled_value"]), D(order["total_fees"])
    assert fees == filled_value * D("0.009")
    assert filled_value + fees <= D("100")
    fills = client.get_fills(order_ids=[order_id]).to_dict()["fills"]
    assert fills
    assert all(f["liquidity_indicator"] == "TAKER" for f in fills)
    assert sum(D(f["commission"]) for f in fills) == fees


def test_limit_order_rests_then_fills_as_maker(sim: SimHandle) -> None:
    sim.control("book", product_id="SOL-USD", bids=[["99.00", "10"]], asks=[["101.00", "10"]])
    client = sim.rest()
    resp = client.limit_order_gtc_buy(
        client_order_id=coid(), product_id="SOL-USD", base_size="2", limit_price="100.00", post_only=True
    )
    order_id = resp.success_response["order_id"]
    assert client.get_order(order_id).order.status == "OPEN"
    book = client.get_product_book(product_id="SOL-USD", limit=5).to_dict()["pricebook"]
    assert book["bids"][0] == {"price": "100", "size": "2"}
    sim.control("trade", product_id="SOL-USD", side="SELL", size="2")
    order = client.get_order(order_id).order.to_dict()
    assert order["status"] == "FILLED"
    assert D(order["total_fees"]) == D("200") * D("0.005")
    fills = client.get_fills(order_ids=[order_id]).to_dict()["fills"]
    assert [f["liquidity_indicator"] for f in fills] == ["MAKER"]
    trades = client.get_market_trades("SOL-USD", limit=5).to_dict()["trades"]
    assert trades[0]["side"] == "BUY"
    assert trades[0]["price"] == "100"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"base_size": "0.123456789", "limit_price": "10.00"}, "INVALID_SIZE_PRECISION"),
        ({"base_size": "0.1", "limit_price": "10.001"}, "INVALID_PRICE_PRECISION"),
        ({"base_size": "1000", "limit_price": "100000.00"}, "INSUFFICIENT_FUND"),
        (
            {"base_size": "0.1", "limit_price": "999999.00", "post_only": True},
            "INVALID_LIMIT_PRICE_POST_ONLY",
        ),
    ],
)
def test_rejects_are_http_200_with_reason(sim: SimHandle, kwargs: dict[str, object], reason: str) -> None:
    resp = sim.rest().limit_order_gtc_buy(client_order_id=coid(), product_id="BTC-USD", **kwargs)
    assert resp.success is False
    assert resp.error_response["error"] == reason
    assert resp.error_response["new_order_failure_reason"] == reason


def test_duplicate_client_order_id_returns_the_original(sim: SimHandle) -> None:
    client, cid = sim.rest(), coid()
    first = client.limit_order_gtc_buy(
        client_order_id=cid, product_id="BTC-USD", base_size="0.01", limit_price="1000.00"
    )
    again = client.limit_order_gtc_sell(
        client_order_id=cid, product_id="ETH-USD", base_size="5", limit_price="99999.00"
    )
    assert again.success
    assert again.success_response["order_id"] == first.success_response["order_id"]
    assert again.success_response["product_id"] == "BTC-USD"
    sim.control("duplicate_mode", mode="reject")
    third = client.limit_order_gtc_buy(
        client_order_id=cid, product_id="BTC-USD", base_size="0.01", limit_price="1000.00"
    )
    assert third.success is False
    assert third.error_response["new_order_failure_reason"] == "DUPLICATE_CLIENT_ORDER_ID"


def test_get_list_and_cancel_orders(sim: SimHandle) -> None:
    client = sim.rest()
    ids = [
        client.limit_order_gtc_buy(
            client_order_id=coid(), product_id="ETH-USD", base_size="0.01", limit_price=f"{100 + i}.00"
        ).success_response["order_id"]
        for i in range(3)
    ]
    listed = client.list_orders(product_ids=["ETH-USD"], order_status=["OPEN"], limit=2).to_dict()
    assert listed["has_next"]
    assert len(listed["orders"]) == 2
    rest = client.list_orders(
        product_ids=["ETH-USD"], order_status=["OPEN"], limit=2, cursor=listed["cursor"]
    )
    seen = {o["order_id"] for o in listed["orders"]} | {o["order_id"] for o in rest.to_dict()["orders"]}
    assert set(ids) <= seen
    results = client.cancel_orders(order_ids=[*ids, "nope"]).to_dict()["results"]
    assert [r["success"] for r in results] == [True, True, True, False]
    assert results[-1]["failure_reason"] == "UNKNOWN_CANCEL_ORDER"
    assert client.get_order(ids[0]).order.status == "CANCELLED"
    with pytest.raises(HTTPError) as exc:
        client.get_order("00000000-0000-0000-0000-000000000000")
    assert exc.value.response.status_code == 404


def test_fills_cursor_paging(sim: SimHandle) -> None:
    client = sim.rest()
    for _ in range(3):
        assert client.market_order_sell(
            client_order_id=coid(), product_id="BTC-USD", base_size="0.0001"
        ).success
    first = client.get_fills(product_ids=["BTC-USD"], limit=2).to_dict()
    assert len(first["fills"]) == 2
    assert first["cursor"]
    second = client.get_fills(product_ids=["BTC-USD"], limit=2, cursor=first["cursor"]).to_dict()
    assert second["fills"]
    assert not {f["entry_id"] for f in first["fills"]} & {f["entry_id"] for f in second["fills"]}


def test_accounts_paged_and_single(sim: SimHandle) -> None:
    client = sim.rest()
    page = client.get_accounts(limit=1).to_dict()
    assert page["has_next"]
    assert page["size"] == 1
    everything = client.get_accounts().to_dict()["accounts"]
    usd = next(a for a in everything if a["currency"] == "USD")
    assert usd["uuid"] == account_uuid(sim.sim.config.account_id, "USD")
    assert client.get_account(usd["uuid"]).to_dict()["account"]["currency"] == "USD"


def test_market_data_endpoints(sim: SimHandle) -> None:
    client = sim.rest()
    bba = client.get_best_bid_ask(product_ids=["BTC-USD", "ETH-USD"]).to_dict()["pricebooks"]
    assert [b["product_id"] for b in bba] == ["BTC-USD", "ETH-USD"]
    assert D(bba[0]["bids"][0]["price"]) < D(bba[0]["asks"][0]["price"])
    book = client.get_product_book(product_id="BTC-USD", limit=3).to_dict()
    assert len(book["pricebook"]["bids"]) == 3
    assert D(book["spread_absolute"]) > 0
    now = int(time.time())
    eventually(
        lambda: client.get_candles(
            "BTC-USD", start=str(now - 600), end=str(now + 60), granularity="ONE_MINUTE"
        ).to_dict()["candles"]
    )
    with pytest.raises(HTTPError) as exc:
        client.get_candles("BTC-USD", start=str(now - 400 * 60), end=str(now), granularity="ONE_MINUTE")
    assert exc.value.response.status_code == 400
    assert "350" in exc.value.response.json()["error_details"]


def test_fee_tier(sim: SimHandle) -> None:
    tier = sim.rest().get_transaction_summary().to_dict()["fee_tier"]
    assert (tier["maker_fee_rate"], tier["taker_fee_rate"]) == ("0.005", "0.009")
    fut = sim.rest().get_transaction_summary(product_type="FUTURE").to_dict()["fee_tier"]
    assert fut["taker_fee_rate"] == "0.0005"


def test_futures_order_position_and_margin(sim: SimHandle) -> None:
    client = sim.rest()
    pid = next(p for p in sim.sim.venue.products if p.startswith("BIT-"))
    resp = client.market_order_buy(client_order_id=coid(), product_id=pid, base_size="2")
    assert resp.success, resp.to_dict()
    positions = client.list_futures_positions().to_dict()["positions"]
    pos = next(p for p in positions if p["product_id"] == pid)
    assert (pos["side"], pos["number_of_contracts"]) == ("LONG", "2")
    summary = client.get_futures_balance_summary().to_dict()["balance_summary"]
    assert D(summary["initial_margin"]["value"]) > 0
    off_grid = client.market_order_buy(client_order_id=coid(), product_id=pid, base_size="0.5")
    assert off_grid.error_response["error"] == "INVALID_SIZE_PRECISION"
    client.market_order_sell(client_order_id=coid(), product_id=pid, base_size="2")
    assert all(p["product_id"] != pid for p in client.list_futures_positions().to_dict()["positions"])


def _token(key: ec.EllipticCurvePrivateKey, kid: str, uri: str, *, exp_offset: int = 120) -> str:
    now = int(time.time())
    claims = {"sub": kid, "iss": "cdp", "nbf": now, "exp": now + exp_offset, "uri": uri}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "nonce": "00"})


def test_bad_jwt_is_401(sim: SimHandle) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    client = sim.rest()
    stranger = type(client)(api_key=sim.sim.key_name, api_secret=pem, base_url=sim.sim.rest_host)
    stranger.session.trust_env, stranger.session.verify = False, sim.sim.ca_path
    with pytest.raises(HTTPError) as exc:
        stranger.get_accounts()
    assert exc.value.response.status_code == 401
    assert exc.value.response.text == "Unauthorized"
    real = serialization.load_pem_private_key(sim.sim.private_key_pem.encode(), None)
    assert isinstance(real, ec.EllipticCurvePrivateKey)
    path = "/api/v3/brokerage/accounts"
    good_uri = f"GET {sim.sim.rest_host}{path}"
    cases = {
        "wrong uri": _token(real, sim.sim.key_name, f"GET api.coinbase.com{path}"),
        "expired": _token(real, sim.sim.key_name, good_uri, exp_offset=-60),
        "wrong kid": _token(real, "organizations/x/apiKeys/y", good_uri),
    }
    for name, token in cases.items():
        resp = sim.raw("GET", path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, name
    ok = sim.raw("GET", path, headers={"Authorization": f"Bearer {_token(real, sim.sim.key_name, good_uri)}"})
    assert ok.status_code == 200
    assert sim.raw("GET", path).status_code == 401
    assert sim.raw("GET", "/api/v3/brokerage/market/products/BTC-USD").status_code == 200


def test_gtd_order_expires(sim: SimHandle) -> None:
    from datetime import UTC, datetime, timedelta

    end = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client = sim.rest()
    resp = client.limit_order_gtd_buy(
        client_order_id=coid(), product_id="BTC-USD", base_size="0.001", limit_price="1000.00", end_time=end
    )
    order_id = resp.success_response["order_id"]
    assert client.get_order(order_id).order.status == "OPEN"
    eventually(lambda: client.get_order(order_id).order.status == "EXPIRED", timeout=5)
    assert client.get_order(order_id).order.to_dict()["outstanding_hold_amount"] == "0"


def test_close_position_funding_settlement_and_session(sim: SimHandle) -> None:
    client = sim.rest()
    pid = "BIP-20DEC30-CDE"
    assert client.market_order_sell(client_order_id=coid(), product_id=pid, base_size="3").success
    short = next(p for p in client.list_futures_positions().to_dict()["positions"] if p["product_id"] == pid)
    assert (short["side"], short["number_of_contracts"]) == ("SHORT", "3")
    sim.control("funding", product_id=pid, rate="0.001")  # positive rate: shorts receive
    closed = client.close_position(client_order_id=coid(), product_id=pid)
    assert closed.success
    assert all(p["product_id"] != pid for p in client.list_futures_positions().to_dict()["positions"])
    sim.control("product", product_id=pid, session_open=False)
    try:
        resp = client.market_order_buy(client_order_id=coid(), product_id=pid, base_size="1")
        assert resp.error_response["error"] == "INVALID_FCM_TRADING_SESSION"
    finally:
        sim.control("product", product_id=pid, session_open=True)
    bit = next(p for p in sim.sim.venue.products if p.startswith("BIT-"))
    assert client.market_order_buy(client_order_id=coid(), product_id=bit, base_size="1").success
    sim.control("settle", product_id=bit, price="100000")
    assert all(p["product_id"] != bit for p in client.list_futures_positions().to_dict()["positions"])
    after = client.market_order_buy(client_order_id=coid(), product_id=bit, base_size="1")
    assert after.error_response["error"] == "TRADING_DISABLED"


def test_advance_time_expires_gtd(sim: SimHandle) -> None:
    from datetime import UTC, datetime, timedelta

    end = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    client = sim.rest()
    resp = client.limit_order_gtd_buy(
        client_order_id=coid(), product_id="BTC-USD", base_size="0.001", limit_price="1000.00", end_time=end
    )
    order_id = resp.success_response["order_id"]
    sim.control("advance_time", seconds=3601)
    assert client.get_order(order_id).order.status == "EXPIRED"
