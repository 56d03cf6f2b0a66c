"""Candle history for warm-up and backtests: REST `get_candles`, paged, sorted, de-duplicated.

The venue returns at most 350 buckets per call, newest first, and omits empty buckets, so a
request is split into windows of `candle_page_size` buckets, each fetched through the real SDK
client in a worker thread (its calls block), and the rows are merged by `start`. Paging, merging and
the SDK call live in `shared.coinbase.candles` (the backtester pages the same way); only
`CandleFetcher` does I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

import msgspec
import requests
import structlog

from services.marketdata.config import MarketDataSettings
from services.marketdata.constants import CANDLES_MAX_PER_CALL, GRANULARITY_BY_SECONDS
from services.marketdata.errors import (
    CandleRequestError,
    MalformedMessageError,
    VenueRejectedError,
    VenueUnavailableError,
)
from services.marketdata.parse import checked
from services.marketdata.schemas import RestCandle, RestCandles
from shared.coinbase.candles import fetch_page, merge_by_start
from shared.coinbase.candles import page_windows as page_windows
from shared.coinbase.rest import make_rest_client
from shared.config import CoinbaseCredentials
from shared.messages import Candle, CandleReply, CandleRequest

_log = structlog.get_logger("marketdata.candles")


def to_candle(row: RestCandle, venue: str, product_id: str, granularity_s: int) -> Candle:
    """A REST row as our `Candle`; a bad number or start makes it malformed."""
    try:
        start = int(row.start)
    except ValueError:
        raise MalformedMessageError(f"bad candle start: {row.start!r}") from None
    return Candle(
        venue=venue,
        product_id=product_id,
        start=start,
        granularity_s=granularity_s,
        open=checked(row.open, "open"),
        high=checked(row.high, "high"),
        low=checked(row.low, "low"),
        close=checked(row.close, "close"),
        volume=checked(row.volume, "volume"),
    )


def merge_candles(candles: Iterable[Candle], start: int, end: int) -> tuple[Candle, ...]:
    """Rows from every page: only [start, end), one per `start` (the last fetched wins), oldest first."""
    return tuple(merge_by_start(candles, start, end, key=attrgetter("start")))


def validate_request(request: CandleRequest, venue: str, max_bars: int) -> str:
    """The venue's granularity name for a request we can serve; `CandleRequestError` otherwise."""
    if request.venue != venue:
        raise CandleRequestError(f"venue must be {venue!r}, got {request.venue!r}")
    granularity = GRANULARITY_BY_SECONDS.get(request.granularity_s)
    if granularity is None:
        allowed = ", ".join(str(g) for g in GRANULARITY_BY_SECONDS)
        raise CandleRequestError(f"granularity_s must be one of {allowed}")
    if request.start < 0 or request.end <= request.start:
        raise CandleRequestError("start must be >= 0 and end must be after start")
    if (request.end - request.start) // request.granularity_s > max_bars:
        raise CandleRequestError(f"request spans more than {max_bars} bars")
    return granularity


class CandleFetcher:
    """Serves `CandleRequest`s from the venue's REST API through `coinbase.rest.RESTClient`."""

    def __init__(self, settings: MarketDataSettings, credentials: CoinbaseCredentials | None) -> None:
        self.settings = settings
        self.credentials = credentials
        self._slots = asyncio.Semaphore(4)

    def _client(self) -> Any:
        """A fresh SDK client (one per request: `requests.Session` is not promised thread-safe)."""
        creds = self.credentials
        return make_rest_client(
            self.settings.venue.rest_host,
            creds.api_key if creds else None,
            creds.reveal_secret() if creds else None,
            self.settings.venue.ca_file,
            self.settings.candle_timeout_s,
        )

    async def handle(self, request: CandleRequest) -> CandleReply:
        """The NATS request handler: candles, or an error reply that says what went wrong."""
        try:
            granularity = validate_request(request, self.settings.venue.name, self.settings.candle_max_bars)
            async with self._slots:
                candles = await self._fetch(request, granularity)
        except (CandleRequestError, VenueRejectedError, VenueUnavailableError, MalformedMessageError) as exc:
            _log.warning("candles_failed", product_id=request.product_id, error=str(exc))
            return CandleReply(error=f"{type(exc).__name__}: {exc}")
        return CandleReply(candles=candles)

    async def _fetch(self, request: CandleRequest, granularity: str) -> tuple[Candle, ...]:
        client = self._client()
        rows: list[Candle] = []
        windows = page_windows(
            request.start, request.end, request.granularity_s, self.settings.candle_page_size
        )
        for lower, upper in windows:
            page = await self._page_with_retry(client, request.product_id, lower, upper, granularity)
            rows.extend(
                to_candle(row, request.venue, request.product_id, request.granularity_s)
                for row in page.candles
            )
        return merge_candles(rows, request.start, request.end)

    async def _page_with_retry(
        self, client: Any, product_id: str, lower: int, upper: int, granularity: str
    ) -> RestCandles:
        attempt = 0
        while True:
            try:
                return await asyncio.to_thread(self._page, client, product_id, lower, upper, granularity)
            except VenueUnavailableError:
                if attempt >= self.settings.candle_retries:
                    raise
                attempt += 1
                await asyncio.sleep(0.2 * 2**attempt)

    def _page(self, client: Any, product_id: str, lower: int, upper: int, granularity: str) -> RestCandles:
        """One blocking SDK call (private endpoint with keys, the public one without)."""
        limit = min(CANDLES_MAX_PER_CALL, self.settings.candle_page_size + 1)
        try:
            body = fetch_page(
                client, product_id, lower, upper, granularity, signed=bool(self.credentials), limit=limit
            )
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429 or status >= 500:
                raise VenueUnavailableError(f"candles HTTP {status}") from None
            raise VenueRejectedError(f"candles HTTP {status}: {exc}") from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise VenueUnavailableError(f"candles: {type(exc).__name__}") from None
        try:
            return msgspec.convert(body, RestCandles)
        except msgspec.ValidationError as exc:
            raise MalformedMessageError(f"candles body: {exc}") from None
