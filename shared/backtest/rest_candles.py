"""Candles over the venue's REST API (Coinbase or the simulator), cached as Parquet.

Fetched with the real `coinbase.rest.RESTClient` — signed `get_candles` when keys are configured,
`get_public_candles` otherwise — in pages of at most `PAGE_BUCKETS` buckets (the venue refuses more
than 350 per call and returns them newest first, omitting empty buckets). Pages are merged, kept
inside [start, end), sorted and de-duplicated by start, then written to a Parquet file whose name
is the whole request (host, product, granularity, range), so the same request later reads the
file and makes no call. Ranges reaching into the future are fetched but not cached: their last
candle is still forming and a cache would freeze it. The paging, merging and SDK client come from
`shared.coinbase` (the market-data service's candle pager uses the same ones).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from shared.backtest.errors import DataError
from shared.coinbase.candles import GRANULARITY_BY_SECONDS, fetch_page, merge_by_start
from shared.coinbase.candles import MAX_PER_CALL as MAX_PER_CALL
from shared.coinbase.candles import PAGE_BUCKETS as PAGE_BUCKETS
from shared.coinbase.candles import page_windows as page_windows
from shared.coinbase.rest import make_rest_client
from shared.config import CoinbaseCredentials

GRANULARITIES = GRANULARITY_BY_SECONDS
DEFAULT_HOST = "api.coinbase.com"
RETRIES = 2


@dataclass(frozen=True)
class CandleQuery:
    """One product's candles in [start, end) (epoch seconds) at `granularity_s`."""

    product_id: str
    start: int
    end: int
    granularity_s: int = 60

    def __post_init__(self) -> None:
        if self.granularity_s not in GRANULARITIES:
            allowed = ", ".join(str(g) for g in GRANULARITIES)
            raise DataError(f"--granularity must be one of {allowed} (seconds)")
        if self.start < 0 or self.end <= self.start:
            raise DataError("--end must be after --start")


@dataclass(frozen=True)
class RestSource:
    """Where candles come from and where they are cached. `ca_file` pins the TLS trust (the
    simulator's CA); `credentials` None means public candles."""

    host: str = DEFAULT_HOST
    cache_dir: Path = Path(".cache/candles")
    ca_file: Path | None = None
    credentials: CoinbaseCredentials | None = None
    timeout_s: int = 15


@dataclass(frozen=True)
class Fetched:
    """Candles as a long frame (`timestamp, product_id, open, high, low, close, volume`)."""

    frame: pl.DataFrame
    path: Path
    from_cache: bool
    requests: int
    stored: bool = True  # False when the range reaches into the future (nothing written)


def parse_time(text: str, option: str) -> int:
    """Epoch seconds from ISO-8601 (naive = UTC) or an epoch-seconds number."""
    value = text.strip()
    if re.fullmatch(r"\d+", value):
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(f"{option} must be ISO-8601 or epoch seconds, got '{text}'") from None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())


def cache_path(source: RestSource, q: CandleQuery) -> Path:
    """The cache file of one request: every part of the request is in the name."""

    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9.-]+", "_", text)

    name = f"{slug(q.product_id)}_{q.granularity_s}s_{q.start}_{q.end}.parquet"
    return source.cache_dir / slug(source.host) / name


def make_client(source: RestSource) -> Any:
    """The SDK client; with a CA file, trust exactly it (`shared.coinbase.rest`)."""
    creds = source.credentials
    return make_rest_client(
        source.host,
        creds.api_key if creds else None,
        creds.reveal_secret() if creds else None,
        source.ca_file,
        source.timeout_s,
    )


def _page(client: Any, source: RestSource, q: CandleQuery, lo: int, hi: int) -> list[dict[str, Any]]:
    """One SDK call, retried on 429/5xx and connection trouble; anything else is a `DataError`."""
    import requests

    signed = source.credentials is not None
    for attempt in range(RETRIES + 1):
        try:
            body = fetch_page(
                client,
                q.product_id,
                lo,
                hi,
                GRANULARITIES[q.granularity_s],
                signed=signed,
                limit=MAX_PER_CALL,
            )
            return list(body.get("candles") or [])
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if (status == 429 or status >= 500) and attempt < RETRIES:
                time.sleep(0.2 * 2**attempt)
                continue
            raise DataError(f"candles for {q.product_id}: HTTP {status}") from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            if attempt < RETRIES:
                time.sleep(0.2 * 2**attempt)
                continue
            problem = type(exc).__name__
            raise DataError(f"candles for {q.product_id}: cannot reach {source.host} ({problem})") from None
    raise AssertionError("unreachable")


def to_frame(rows: list[dict[str, Any]], q: CandleQuery) -> pl.DataFrame:
    """Rows from every page → one frame inside [start, end), one row per start, oldest first."""
    try:
        kept = merge_by_start(rows, q.start, q.end, key=lambda row: int(row["start"]))
        starts = [int(row["start"]) for row in kept]
        cols = {k: [float(row[k]) for row in kept] for k in ("open", "high", "low", "close", "volume")}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"candles for {q.product_id}: malformed row ({exc})") from None
    return pl.DataFrame(
        {
            "timestamp": pl.Series([s * 1_000_000_000 for s in starts], dtype=pl.Int64).cast(
                pl.Datetime("ns", "UTC")
            ),
            "product_id": [q.product_id] * len(starts),
            **cols,
        },
        schema_overrides={k: pl.Float64 for k in cols},
    )


def fetch_candles(
    q: CandleQuery,
    source: RestSource,
    *,
    client_factory: Callable[[RestSource], Any] = make_client,
    now_s: Callable[[], float] = time.time,
) -> Fetched:
    """The cached file when there is one; otherwise fetch every page, then cache if complete."""
    path = cache_path(source, q)
    if path.is_file():
        return Fetched(pl.read_parquet(path), path, from_cache=True, requests=0)
    client = client_factory(source)
    rows: list[dict[str, Any]] = []
    windows = page_windows(q.start, q.end, q.granularity_s)
    for lo, hi in windows:
        rows.extend(_page(client, source, q, lo, hi))
    frame = to_frame(rows, q)
    if frame.height == 0:
        raise DataError(f"no candles for {q.product_id} between {q.start} and {q.end} on {source.host}")
    stored = q.end <= now_s()
    if stored:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".parquet.tmp")
        frame.write_parquet(tmp)
        tmp.replace(path)  # atomic: a crash never leaves a half-written cache entry
    return Fetched(frame, path, from_cache=False, requests=len(windows), stored=stored)
