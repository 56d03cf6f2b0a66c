"""The SDK's blocking `RESTClient` behind an async, rate-limited, classified, retrying facade.

Every call runs in a worker thread (`asyncio.to_thread`) so the event loop keeps serving the bus.
A token bucket keeps us under the venue's private limit; a 429 backs off exponentially. Each
failure leaves here as a typed error (`errors.classify`), so callers decide by class alone.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import msgspec
import structlog
from coinbase.rest import RESTClient

from services.execution import metrics
from services.execution.coinbase.config import LiveSettings
from services.execution.coinbase.errors import classify
from services.execution.errors import RetryableVenueError, VenueServerError
from shared.backoff import Backoff
from shared.coinbase import schemas
from shared.throttle import Throttle

T = TypeVar("T")
_log = structlog.get_logger("execution.coinbase.http")


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
        self.bucket = Throttle(settings.rate_limit_per_s)

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
