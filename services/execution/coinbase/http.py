"""The SDK's blocking `RESTClient` behind an async, rate-limited, classified, retrying facade.

Every call runs in a worker thread (`asyncio.to_thread`) so the event loop keeps serving the bus.
A token bucket keeps us under the venue's private limit (§2.16); a 429 backs off exponentially. Each
failure leaves here as a typed error (`errors.classify`), so callers decide by class alone.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, TypeVar

import msgspec
import structlog
from coinbase.rest import RESTClient

from services.execution import metrics
from services.execution.coinbase.config import LiveSettings
from services.execution.coinbase.errors import classify
from services.execution.errors import RetryableVenueError, VenueServerError
from shared.coinbase import schemas
from shared.coinbase.rest import make_rest_client
from shared.config import CoinbaseCredentials, VenueSettings

T = TypeVar("T")
_log = structlog.get_logger("execution.coinbase.http")


class TokenBucket:
    """`rate` requests per second with a burst of one second's worth; `acquire` waits its turn."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Take one token, sleeping until one is available."""
        async with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._stamp = time.monotonic()
                self._tokens = 1
            self._tokens -= 1


class Backoff:
    """Delay n is uniform in [c/2, c] with c = min(cap, base·2ⁿ): never hammering, never in lockstep."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.base_s, self.cap_s = base_s, cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The next delay; each call moves one attempt further."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


def build_client(venue: VenueSettings, credentials: CoinbaseCredentials, timeout_s: float) -> RESTClient:
    """The SDK client for `venue`, built by `shared.coinbase.rest` (CA pinning included)."""
    secret = credentials.reveal_secret()
    return make_rest_client(venue.rest_host, credentials.api_key, secret, venue.ca_file, timeout_s)


def decode(data: Any, kind: type[T]) -> T:
    """Raw JSON (already a dict) → a schema Struct; a shape we cannot read is an unknown outcome."""
    try:
        return schemas.decode(data, kind)
    except msgspec.ValidationError as exc:
        raise VenueServerError(f"malformed venue response: {exc}") from None


class CoinbaseHttp:
    """Async REST calls: `once` (one attempt) for create-order, `read` (retrying) for idempotent reads."""

    def __init__(self, client: RESTClient, settings: LiveSettings) -> None:
        self.client = client
        self.settings = settings
        self.bucket = TokenBucket(settings.rate_limit_per_s)

    def backoff(self) -> Backoff:
        """A fresh retry schedule from the settings."""
        return Backoff(self.settings.retry_base_s, self.settings.retry_max_s)

    def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: dict[str, Any] | None
    ) -> Any:
        if method == "GET":
            return self.client.get(path, params=params)
        return self.client.post(path, data=body)

    async def once(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """One rate-limited attempt; raises a typed `VenueError`."""
        await self.bucket.acquire()
        try:
            return await asyncio.to_thread(self._send, method, path, params, body)
        except Exception as exc:
            raise classify(exc) from exc

    async def read(self, path: str, kind: type[T], *, params: dict[str, Any] | None = None) -> T:
        """GET with retries on retryable errors (reads are idempotent); decoded into `kind`."""
        backoff = self.backoff()
        for attempt in range(1, self.settings.read_attempts + 1):
            try:
                return decode(await self.once("GET", path, params=params), kind)
            except RetryableVenueError as exc:
                metrics.VENUE_RETRIES.labels(type(exc).__name__).inc()
                if attempt == self.settings.read_attempts:
                    raise
                delay = backoff.next_delay()
                _log.warning("venue_read_retry", path=path, error=type(exc).__name__, delay_s=round(delay, 3))
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def post(self, path: str, body: dict[str, Any], kind: type[T]) -> T:
        """One POST attempt, decoded (callers that retry do it themselves, by error class)."""
        return decode(await self.once("POST", path, body=body), kind)
