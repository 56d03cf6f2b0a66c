"""Pure helpers of the simulator: JWT checks and number/time rendering."""

from __future__ import annotations

import time
from decimal import Decimal

import jwt
from coinbase.jwt_generator import build_rest_jwt, build_ws_jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.exchange_sim.auth import bearer_token, verify_jwt
from services.exchange_sim.render import fmt, rfc3339

NAME = "organizations/org/apiKeys/key"
KEY = ec.generate_private_key(ec.SECP256R1())
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
).decode()
URI = "GET 127.0.0.1:8443/api/v3/brokerage/accounts"


def check(token: str, uri: str | None = URI) -> bool:
    return verify_jwt(token, public_key=KEY.public_key(), key_name=NAME, uri=uri)


def test_sdk_tokens_verify() -> None:
    assert check(build_rest_jwt(URI, NAME, PEM))
    assert check(build_ws_jwt(NAME, PEM), uri=None)
    assert not check(build_rest_jwt(URI.replace("GET", "POST"), NAME, PEM))
    assert not check(build_ws_jwt(NAME, PEM))  # a WS token has no uri: not valid for REST


def test_claims_and_header_rules() -> None:
    now = int(time.time())
    base = {"sub": NAME, "iss": "cdp", "nbf": now, "exp": now + 120, "uri": URI}
    headers = {"kid": NAME, "nonce": "n"}
    assert check(jwt.encode({**base, "iss": "coinbase-cloud"}, KEY, algorithm="ES256", headers=headers))
    assert not check(jwt.encode({**base, "iss": "other"}, KEY, algorithm="ES256", headers=headers))
    assert not check(jwt.encode({**base, "sub": "x"}, KEY, algorithm="ES256", headers=headers))
    assert not check(jwt.encode({**base, "nbf": now + 600}, KEY, algorithm="ES256", headers=headers))
    missing_exp = {k: v for k, v in base.items() if k != "exp"}
    assert not check(jwt.encode(missing_exp, KEY, algorithm="ES256", headers=headers))
    assert not check(jwt.encode(base, "secret-secret-secret-secret-32b!", algorithm="HS256", headers=headers))
    assert not check("not-a-jwt")


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None


def test_fmt_and_rfc3339() -> None:
    assert fmt(Decimal("0.00000001")) == "0.00000001"
    assert fmt(Decimal("100.500")) == "100.5"
    assert fmt(Decimal("1E+3")) == "1000"
    assert fmt(Decimal("0E-8")) == "0"
    assert rfc3339(1_764_000_000_123_456_789) == "2025-11-24T16:00:00.123456789Z"
    assert rfc3339(0) == "0001-01-01T00:00:00Z"
