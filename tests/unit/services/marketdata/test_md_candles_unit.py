"""Candle paging, merging and request validation; the fetcher against a hand-written SDK fake."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
import requests

from services.marketdata.candles import (
    CandleFetcher,
    merge_candles,
    page_windows,
    to_candle,
    validate_request,
)
from services.marketdata.config import MarketDataSettings
from services.marketdata.errors import CandleRequestError, MalformedMessageError
from services.marketdata.schemas import RestCandle, RestCandles
from shared.messages import Candle, CandleRequest

from .helpers import raw


def test_windows_cover_the_range_in_pages_without_overlap() -> None:
    assert page_windows(0, 600, 60, 3) == [(0, 180), (180, 360), (360, 540), (540, 600)]
    assert page_windows(0, 60, 60, 300) == [(0, 60)]
    assert page_windows(10, 10, 60, 3) == []


def _candle(start: int, close: str = "1") -> Candle:
    one = Decimal(1)
    return Candle(
        venue="coinbase",
        product_id="BTC-USD",
        start=start,
        granularity_s=60,
        open=one,
        high=one,
        low=one,
        close=Decimal(close),
        volume=one,
    )


def test_merge_sorts_deduplicates_and_clips_to_the_range() -> None:
    rows = [_candle(180), _candle(60), _candle(120, "2"), _candle(120, "3"), _candle(0), _candle(600)]
    merged = merge_candles(rows, 60, 600)
    assert [c.start for c in merged] == [60, 120, 180]
    assert merged[1].close == Decimal(3)


def test_rest_rows_become_candles_and_bad_rows_are_malformed() -> None:
    body = msgspec.json.decode(raw("candles_rest"), type=RestCandles)
    candle = to_candle(body.candles[0], "coinbase", "BTC-USD", 60)
    assert candle.start == 1_700_000_120
    assert candle.volume == Decimal("12.5")
    with pytest.raises(MalformedMessageError):
        to_candle(RestCandle("soon", *[Decimal(1)] * 5), "coinbase", "BTC-USD", 60)
    with pytest.raises(MalformedMessageError):
        to_candle(RestCandle("1", Decimal("NaN"), *[Decimal(1)] * 4), "coinbase", "BTC-USD", 60)


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (CandleRequest(venue="kraken", product_id="BTC-USD", start=0, end=60), "venue"),
        (
            CandleRequest(venue="coinbase", product_id="BTC-USD", start=0, end=60, granularity_s=120),
            "granularity_s",
        ),
        (CandleRequest(venue="coinbase", product_id="BTC-USD", start=60, end=60), "end"),
        (CandleRequest(venue="coinbase", product_id="BTC-USD", start=0, end=60 * 1001), "more than"),
    ],
)
def test_requests_we_cannot_serve_are_refused(request_: CandleRequest, problem: str) -> None:
    with pytest.raises(CandleRequestError, match=problem):
        validate_request(request_, "coinbase", 1000)


def test_a_servable_request_maps_its_granularity() -> None:
    ok = CandleRequest(venue="coinbase", product_id="BTC-USD", start=0, end=3600, granularity_s=14400)
    assert validate_request(ok, "coinbase", 1000) == "FOUR_HOUR"


class _Response:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def to_dict(self) -> dict[str, Any]:
        return self.body


class _FakeClient:
    """Answers like the venue: newest first, inclusive end (so pages overlap by one bucket)."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[int, int, str, int]] = []
        self.failures = failures

    def get_public_candles(
        self, product_id: str, *, start: str, end: str, granularity: str, limit: int
    ) -> _Response:
        self.calls.append((int(start), int(end), granularity, limit))
        if self.failures:
            self.failures -= 1
            response = requests.Response()
            response.status_code = 503
            raise requests.HTTPError("503", response=response)
        rows = [
            {"start": str(t), "low": "1", "high": "2", "open": "1.5", "close": "1.5", "volume": "1"}
            for t in range(int(end), int(start) - 1, -60)
            if t % 120 == 0  # every other bucket has no trades and is omitted
        ]
        return _Response({"candles": rows})


async def test_the_fetcher_pages_and_merges_and_retries_a_5xx() -> None:
    settings = MarketDataSettings(candle_page_size=5, candle_retries=1)
    fetcher = CandleFetcher(settings, None)
    fake = _FakeClient(failures=1)
    fetcher._client = lambda: fake  # type: ignore[method-assign]
    reply = await fetcher.handle(CandleRequest(venue="coinbase", product_id="BTC-USD", start=0, end=1200))
    assert reply.error == ""
    assert [c.start for c in reply.candles] == list(range(0, 1200, 120))
    windows = [(s, e) for s, e, _, _ in fake.calls]
    assert windows[0] == windows[1] == (0, 300)  # retried once
    assert windows[1:] == [(0, 300), (300, 600), (600, 900), (900, 1200)]
    assert {g for _, _, g, _ in fake.calls} == {"ONE_MINUTE"}
    assert fake.calls[0][3] == 6


async def test_a_4xx_is_reported_without_retry() -> None:
    fetcher = CandleFetcher(MarketDataSettings(), None)
    fake = _FakeClient(failures=1)

    def reject(*args: Any, **kwargs: Any) -> _Response:
        fake.calls.append((0, 0, "", 0))
        response = requests.Response()
        response.status_code = 400
        raise requests.HTTPError("400", response=response)

    fake.get_public_candles = reject  # type: ignore[method-assign]
    fetcher._client = lambda: fake  # type: ignore[method-assign]
    reply = await fetcher.handle(CandleRequest(venue="coinbase", product_id="BTC-USD", start=0, end=60))
    assert "VenueRejectedError" in reply.error
    assert len(fake.calls) == 1
