"""JWT checks the way Coinbase makes them: ES256, `kid == sub == key name`, nbf/exp, and for REST
`uri == "METHOD host:port/path"` (no scheme, no query)."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ACCEPTED_ISSUERS = ("cdp", "coinbase-cloud")


def verify_jwt(
    token: str,
    *,
    public_key: ec.EllipticCurvePublicKey,
    key_name: str,
    uri: str | None,
    leeway_s: int = 5,
) -> bool:
    """True when `token` is valid for this key (and, for REST, this exact `uri`)."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "ES256" or header.get("kid") != key_name:
            return False
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["ES256"],
            leeway=leeway_s,
            options={"require": ["sub", "nbf", "exp"], "verify_aud": False},
        )
    except jwt.PyJWTError:
        return False
    if claims.get("sub") != key_name or claims.get("iss") not in ACCEPTED_ISSUERS:
        return False
    return uri is None or claims.get("uri") == uri


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    return authorization[len("Bearer ") :].strip() or None
