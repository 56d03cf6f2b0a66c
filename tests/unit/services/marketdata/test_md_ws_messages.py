"""Subscribe messages: one channel each, text frames, a fresh ES256 JWT each when keys exist."""

from __future__ import annotations

import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.marketdata.config import MarketDataSettings
from services.marketdata.ws import CoinbaseWsSource, subscribe_messages
from shared.config import CoinbaseCredentials

KEY_NAME = "organizations/org-1/apiKeys/key-1"


def _credentials() -> tuple[CoinbaseCredentials, ec.EllipticCurvePublicKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return CoinbaseCredentials(KEY_NAME, pem), private.public_key()


def test_one_message_per_channel_without_a_jwt_when_there_are_no_keys() -> None:
    messages = subscribe_messages("subscribe", [("heartbeats", []), ("level2", ["BTC-USD", "ETH-USD"])], None)
    assert all(isinstance(m, str) for m in messages)  # text frames: bytes would go out as binary
    bodies = [json.loads(m) for m in messages]
    assert bodies == [
        {"type": "subscribe", "product_ids": [], "channel": "heartbeats"},
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "level2"},
    ]


def test_every_message_carries_its_own_valid_es256_jwt_without_uri() -> None:
    creds, public = _credentials()
    messages = subscribe_messages("unsubscribe", [("ticker", ["BTC-USD"]), ("level2", ["BTC-USD"])], creds)
    tokens = [json.loads(m)["jwt"] for m in messages]
    assert tokens[0] != tokens[1]  # fresh nonce each time
    for token in tokens:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, public, algorithms=["ES256"])
        assert header["alg"] == "ES256"
        assert header["kid"] == KEY_NAME
        assert len(header["nonce"]) == 64
        assert claims["sub"] == KEY_NAME
        assert claims["iss"] == "cdp"
        assert "uri" not in claims
        assert claims["exp"] - claims["nbf"] == 120


class _NullSink:
    def on_connected(self) -> None: ...
    def on_disconnected(self, reason: str) -> None: ...
    async def on_frame(self, data: bytes | str, receive_ns: int) -> None: ...
    def take_resync(self) -> bool:
        return False

    def books_valid(self) -> bool:
        return True

    def liveness_ns(self) -> int:
        return 0


def test_the_source_subscribes_heartbeats_ticker_level2_and_optionally_trades() -> None:
    with_trades = CoinbaseWsSource(MarketDataSettings(products="BTC-USD, ETH-USD"), None, _NullSink())
    assert [name for name, _ in with_trades.channels] == ["heartbeats", "ticker", "level2", "market_trades"]
    assert with_trades.channels[2][1] == ["BTC-USD", "ETH-USD"]
    without = CoinbaseWsSource(MarketDataSettings(market_trades=False), None, _NullSink())
    assert [name for name, _ in without.channels] == ["heartbeats", "ticker", "level2"]
