"""The SDK's `RESTClient`, built the one right way for the real venue or the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coinbase.rest import RESTClient

    from shared.config import CoinbaseCredentials, VenueSettings


def make_rest_client(
    rest_host: str,
    api_key: str | None,
    api_secret: str | None,
    ca_file: str | Path | None,
    timeout: float,
) -> RESTClient:
    """The SDK client for `rest_host` (`host[:port]`, always https); no keys means public endpoints.

    With a CA file (the simulator's) only that CA is trusted: `trust_env` is turned
    off because otherwise `REQUESTS_CA_BUNDLE` silently overrides `verify`. The SDK is imported here,
    not at module level, so importing this module stays cheap.
    """
    from coinbase.rest import RESTClient

    client = RESTClient(api_key=api_key, api_secret=api_secret, base_url=rest_host, timeout=timeout)
    if ca_file:
        client.session.trust_env = False
        client.session.verify = str(ca_file)
    return client


def build_client(venue: VenueSettings, credentials: CoinbaseCredentials, timeout_s: float) -> RESTClient:
    """The SDK client for `venue` with the install's API key (CA pinning included)."""
    secret = credentials.reveal_secret()
    return make_rest_client(venue.rest_host, credentials.api_key, secret, venue.ca_file, timeout_s)
