"""Backtest candles over REST from the in-process exchange simulator through the real SDK client:
paged at most 350 per call, sorted, de-duplicated, cached as Parquet so a second run makes no call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.exchange_sim.state import Candle
from shared.backtest.errors import DataError
from shared.backtest.rest_candles import MAX_PER_CALL, CandleQuery, RestSource, fetch_candles, make_client
from shared.config import CoinbaseCredentials
from tests.sim.helpers import SimHandle, sim_config

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: in the past, so ranges are complete and cacheable
N = 800  # minutes of history: three pages at 300 buckets
MISSING = {17, 401}  # buckets without trades are omitted by the venue, never invented by us


def _seed(handle: SimHandle) -> None:
    """Minute candles in the past: BTC-USD around 50,000, the BIP future 50 bps above it."""

    def put() -> None:
        store = handle.sim.state.candles
        for product, premium in (("BTC-USD", D(0)), ("BIP-20DEC30-CDE", D(250))):
            book = store.minutes.setdefault(product, {})
            for i in range(N):
                if i in MISSING:
                    continue
                px = D(50_000) + D(i % 7) * 5 + (premium if 100 <= i < 300 else D(0))
                book[T0 + 60 * i] = Candle(T0 + 60 * i, px, px + 5, px - 5, px, D(1))

    handle.on_loop(put)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    handle = SimHandle(sim_config(tmp_path_factory.mktemp("sim"), feed_interval_s=5.0))
    _seed(handle)
    try:
        yield handle
    finally:
        handle.stop()


class Counting:
    """A client factory that counts the SDK calls it hands out."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, source: RestSource) -> Any:
        client = make_client(source)
        for name in ("get_candles", "get_public_candles"):
            real = getattr(client, name)

            def wrapped(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                self.calls.append({"method": _name, **kwargs})
                return _real(*args, **kwargs)

            setattr(client, name, wrapped)
        return client


@pytest.mark.parametrize("signed", [True, False], ids=["private", "public"])
def test_paged_sorted_deduplicated_then_cached(sim: SimHandle, tmp_path: Path, signed: bool) -> None:
    creds = CoinbaseCredentials(sim.sim.key_name, sim.sim.private_key_pem) if signed else None
    source = RestSource(sim.sim.rest_host, tmp_path, Path(sim.sim.ca_path), creds)
    query = CandleQuery("BTC-USD", T0, T0 + 60 * N, 60)
    counting = Counting()
    first = fetch_candles(query, source, client_factory=counting)
    assert not first.from_cache
    assert len(counting.calls) == first.requests == 3
    assert {c["method"] for c in counting.calls} == {"get_candles" if signed else "get_public_candles"}
    assert all(c["limit"] <= MAX_PER_CALL for c in counting.calls)
    times = first.frame["timestamp"].dt.epoch("s").to_list()
    assert times == sorted(set(times))
    assert len(times) == N - len(MISSING)
    assert (times[0], times[-1]) == (T0, T0 + 60 * (N - 1))
    assert first.path.is_file()
    assert first.path.parent.name == sim.sim.rest_host.replace(":", "_")

    again = fetch_candles(query, source, client_factory=counting)
    assert again.from_cache
    assert len(counting.calls) == 3  # no new call
    assert again.frame.equals(first.frame)


def test_cache_is_keyed_by_the_whole_request(sim: SimHandle, tmp_path: Path) -> None:
    source = RestSource(sim.sim.rest_host, tmp_path, Path(sim.sim.ca_path))
    a = fetch_candles(CandleQuery("BTC-USD", T0, T0 + 3600, 60), source)
    b = fetch_candles(CandleQuery("BTC-USD", T0, T0 + 3600, 300), source)
    c = fetch_candles(CandleQuery("BTC-USD", T0, T0 + 7200, 300), source)
    assert len({a.path, b.path, c.path}) == 3
    assert (a.frame.height, b.frame.height, c.frame.height) == (59, 12, 24)  # minute 17 is missing


def test_an_empty_range_and_a_venue_error_are_one_line_errors(sim: SimHandle, tmp_path: Path) -> None:
    source = RestSource(sim.sim.rest_host, tmp_path, Path(sim.sim.ca_path))
    with pytest.raises(DataError, match="no candles for BTC-USD"):
        fetch_candles(CandleQuery("BTC-USD", T0 - 7200, T0, 60), source)
    with pytest.raises(DataError, match="HTTP 404"):
        fetch_candles(CandleQuery("NOPE-USD", T0, T0 + 600, 60), source)


def _cli(sim: SimHandle, cache: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["backtest", "--start", str(T0), "--end", "2026-01-01T13:20:00Z", "--granularity", "60",
         "--rest-host", sim.sim.rest_host, "--ca-file", sim.sim.ca_path, "--cache-dir", str(cache),
         "--json", *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return {"doc": json.loads(result.stdout), "stderr": result.stderr}


def test_cli_fetches_once_then_runs_from_the_cache(
    sim: SimHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINBASE_API_KEY", sim.sim.key_name)
    monkeypatch.setenv("COINBASE_API_SECRET", sim.sim.private_key_pem)
    ma = ["--product-id", "BTC-USD", "--short", "3", "--long", "8"]
    first = _cli(sim, tmp_path, *ma)
    assert "BTC-USD: 798 candles from 3 request(s)" in first["stderr"]
    assert first["doc"]["num_trades"] > 0
    sim.on_loop(lambda: sim.sim.control.fail_rest(503, count=100))  # any call now would fail
    try:
        second = _cli(sim, tmp_path, *ma)
    finally:
        sim.on_loop(lambda: sim.sim.state.faults.rest.clear())
    assert "BTC-USD: 798 candles from the cache" in second["stderr"]
    assert second["doc"]["trades"] == first["doc"]["trades"]
    assert len(list(tmp_path.rglob("*.parquet"))) == 1


def test_cli_basis_over_rest(sim: SimHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COINBASE_API_KEY", raising=False)
    monkeypatch.delenv("COINBASE_API_SECRET", raising=False)
    out = _cli(sim, tmp_path, "--strategy", "basis", "--spot-id", "BTC-USD", "--future-id", "BIP-20DEC30-CDE",
               "--notional", "5000", "--fee-bps", "5", "--entry-bps", "10", "--exit-bps", "2")  # fmt: skip
    doc = out["doc"]
    # The future trades 50 bps over spot on minutes 100..299: one carry trade, closed when it converges.
    (trade,) = doc["trades"]
    assert (trade["leg1_side"], trade["leg2_side"], trade["leg2_size"]) == ("buy", "sell", 10.0)
    assert trade["exit_reason"] == "signal"
    assert doc["bars"] == N - len(MISSING)
    assert len(list(tmp_path.rglob("*.parquet"))) == 2
    assert pl.read_parquet(next(tmp_path.rglob("BIP*.parquet"))).height == N - len(MISSING)


def test_a_range_reaching_into_the_future_is_not_cached(sim: SimHandle, tmp_path: Path) -> None:
    source = RestSource(sim.sim.rest_host, tmp_path, Path(sim.sim.ca_path))
    query = CandleQuery("BTC-USD", T0, T0 + 3600, 60)
    got = fetch_candles(query, source, now_s=lambda: T0 + 1800)  # "now" is inside the range
    assert not got.stored
    assert not got.path.exists()
    assert not fetch_candles(query, source, now_s=lambda: T0 + 1800).from_cache
