"""`shared.coinbase.candles` (windows, merge, one page) and `shared.coinbase.rest` (the SDK client)."""

from __future__ import annotations

from itertools import pairwise
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shared.coinbase.candles import (
    GRANULARITY_BY_SECONDS,
    MAX_PER_CALL,
    PAGE_BUCKETS,
    fetch_page,
    merge_by_start,
    page_windows,
)
from shared.coinbase.rest import make_rest_client
from shared.coinbase.schemas import ListProductsResponse, RestFill, WsEnvelope, decode


def test_windows_cover_the_range_without_gaps_or_overlap() -> None:
    assert page_windows(0, 60 * 700, 60) == [(0, 18_000), (18_000, 36_000), (36_000, 42_000)]
    assert page_windows(0, 60, 60) == [(0, 60)]
    assert page_windows(10, 10, 60) == []
    start, end, gran = 1_700_000_000, 1_700_000_000 + 86_400 * 3 + 7, 300
    windows = page_windows(start, end, gran, MAX_PER_CALL)
    assert windows[0][0] == start
    assert windows[-1][1] == end
    assert all(lo < hi for lo, hi in windows)
    assert all(a[1] == b[0] for a, b in pairwise(windows))
    assert all((hi - lo) // gran <= MAX_PER_CALL for lo, hi in windows)
    assert PAGE_BUCKETS <= MAX_PER_CALL == 350


@pytest.mark.parametrize("page_size", [0, -1, MAX_PER_CALL + 1])
def test_windows_refuse_a_page_the_venue_would_refuse(page_size: int) -> None:
    with pytest.raises(ValueError, match="page_size"):
        page_windows(0, 600, 60, page_size)


def test_windows_refuse_a_non_positive_granularity() -> None:
    with pytest.raises(ValueError, match="granularity_s"):
        page_windows(0, 600, 0)


def test_merge_clips_sorts_and_keeps_the_last_row_per_start() -> None:
    rows = [
        {"start": 180, "close": "a"},
        {"start": 60, "close": "b"},
        {"start": 120, "close": "c"},
        {"start": 120, "close": "d"},
        {"start": 0, "close": "e"},
        {"start": 600, "close": "f"},
    ]
    merged = merge_by_start(rows, 60, 600, key=itemgetter("start"))
    assert [(r["start"], r["close"]) for r in merged] == [(60, "b"), (120, "d"), (180, "a")]
    with pytest.raises(KeyError):
        merge_by_start([{"open": 1}], 0, 10, key=itemgetter("start"))


class _Body:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def to_dict(self) -> dict[str, Any]:
        return self.payload


class _FakeSdk:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def get_candles(self, product_id: str, **kwargs: Any) -> _Body:
        self.calls.append(("get_candles", product_id, kwargs))
        return _Body({"candles": [{"start": "60"}]})

    def get_public_candles(self, product_id: str, **kwargs: Any) -> _Body:
        self.calls.append(("get_public_candles", product_id, kwargs))
        return _Body({"candles": []})


def test_one_page_uses_the_signed_or_public_endpoint() -> None:
    sdk = _FakeSdk()
    assert fetch_page(sdk, "BTC-USD", 0, 120, "ONE_MINUTE", signed=True, limit=301) == {
        "candles": [{"start": "60"}]
    }
    assert fetch_page(sdk, "BTC-USD", 120, 180, "ONE_MINUTE", signed=False, limit=350) == {"candles": []}
    assert sdk.calls == [
        ("get_candles", "BTC-USD", {"start": "0", "end": "120", "granularity": "ONE_MINUTE", "limit": 301}),
        (
            "get_public_candles",
            "BTC-USD",
            {"start": "120", "end": "180", "granularity": "ONE_MINUTE", "limit": 350},
        ),
    ]
    assert GRANULARITY_BY_SECONDS[60] == "ONE_MINUTE"


def test_rest_client_pins_exactly_the_given_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    pinned = make_rest_client("localhost:8443", None, None, ca, 7.5)
    assert pinned.session.trust_env is False
    assert pinned.session.verify == str(ca)
    assert pinned.base_url == "localhost:8443"
    assert pinned.timeout == 7.5
    for no_ca in ("", None):
        plain = make_rest_client("api.coinbase.com", None, None, no_ca, 10)
        assert plain.session.trust_env is True
        assert plain.session.verify is True


def test_schemas_ignore_unknown_fields_and_default_what_is_missing() -> None:
    products = decode(
        {"products": [{"product_id": "BTC-USD", "brand_new_field": {"x": 1}}], "num_products": 1},
        ListProductsResponse,
    )
    product = products.products[0]
    assert (product.product_id, product.base_increment, product.product_type) == ("BTC-USD", "", "SPOT")
    envelope = msgspec.json.decode(
        b'{"channel": "user", "sequence_num": 3, "timestamp": "now",'
        b' "events": [{"type": "snapshot", "orders": [{"order_id": "o1", "avg_price": "1"}]}]}',
        type=WsEnvelope,
    )
    assert envelope.events[0].orders[0].order_id == "o1"
    with pytest.raises(msgspec.ValidationError):
        decode({"order_id": "o", "price": "1"}, RestFill)  # no trade_id, no size
