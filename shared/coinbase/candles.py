"""REST candle paging: windows of at most 350 buckets, rows merged sorted and de-duplicated.

The venue returns at most `MAX_PER_CALL` buckets per `get_candles` call, newest first, and omits
empty buckets, so a range is split into windows (`page_windows`), each fetched with `fetch_page`
through the SDK client, and the rows are merged by bucket start (`merge_by_start`). Used by the
market-data service (candle requests over NATS) and the backtester (REST candles cached as Parquet);
each keeps its own retries and error types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

T = TypeVar("T")

MAX_PER_CALL: Final = 350
"""The venue refuses more buckets than this in one call."""
PAGE_BUCKETS: Final = 300
"""Default window: below the hard limit, as the reference advises (an inclusive end may count too)."""
GRANULARITY_BY_SECONDS: Final[dict[int, str]] = {
    60: "ONE_MINUTE",
    300: "FIVE_MINUTE",
    900: "FIFTEEN_MINUTE",
    1800: "THIRTY_MINUTE",
    3600: "ONE_HOUR",
    7200: "TWO_HOUR",
    14400: "FOUR_HOUR",
    21600: "SIX_HOUR",
    86400: "ONE_DAY",
}
"""Bucket length in seconds → the venue's `granularity` name."""


def page_windows(
    start: int, end: int, granularity_s: int, page_size: int = PAGE_BUCKETS
) -> list[tuple[int, int]]:
    """[start, end) (epoch seconds) split into consecutive windows of at most `page_size` buckets."""
    if not 1 <= page_size <= MAX_PER_CALL:
        raise ValueError(f"page_size must be between 1 and {MAX_PER_CALL}, got {page_size}")
    if granularity_s <= 0:
        raise ValueError(f"granularity_s must be positive, got {granularity_s}")
    span = granularity_s * page_size
    return [(lower, min(end, lower + span)) for lower in range(start, end, span)]


def merge_by_start(rows: Iterable[T], start: int, end: int, key: Callable[[T], int]) -> list[T]:
    """Rows from every page: only those whose `key` (bucket start) is in [start, end), one per start
    (the last one seen wins), oldest first. Errors raised by `key` propagate."""
    by_start: dict[int, T] = {}
    for row in rows:
        bucket = key(row)
        if start <= bucket < end:
            by_start[bucket] = row
    return [by_start[bucket] for bucket in sorted(by_start)]


def fetch_page(
    client: Any, product_id: str, lower: int, upper: int, granularity: str, *, signed: bool, limit: int
) -> dict[str, Any]:
    """One blocking SDK call for [lower, upper): signed `get_candles` with keys, `get_public_candles`
    without. SDK/`requests` errors propagate for the caller to classify; the body comes back as a dict."""
    fetch = client.get_candles if signed else client.get_public_candles
    response = fetch(product_id, start=str(lower), end=str(upper), granularity=granularity, limit=limit)
    body: dict[str, Any] = response.to_dict()
    return body
