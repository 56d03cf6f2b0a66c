"""Token buckets: burst, refill, the cap, and time running backwards."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ConfigError
from shared.risk import RateLimit, TokenBucket

SEC = 1_000_000_000
LIMIT = RateLimit(per_second=Decimal("2"), burst=3)


def test_burst_then_refill_at_the_rate() -> None:
    b: TokenBucket | None = TokenBucket.full(LIMIT, 0)
    for _ in range(3):
        assert b is not None
        b = b.take(LIMIT, 0)
    assert b is not None
    assert b.take(LIMIT, 0) is None
    assert b.take(LIMIT, SEC // 2) is not None  # 0.5 s × 2/s = 1 token
    assert b.take(LIMIT, SEC // 4) is None


def test_never_holds_more_than_the_burst() -> None:
    assert TokenBucket.full(LIMIT, 0).refilled(LIMIT, 3600 * SEC).tokens == 3


def test_time_running_backwards_adds_nothing() -> None:
    b = TokenBucket(tokens=Decimal(0), updated_ns=10 * SEC)
    assert b.refilled(LIMIT, 5 * SEC) == b


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("per_second", {"per_second": Decimal(0), "burst": 1}),
        ("burst", {"per_second": Decimal(1), "burst": 0}),
    ],
)
def test_limit_is_validated(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=field):
        RateLimit(**kwargs)  # type: ignore[arg-type]


@given(st.lists(st.integers(0, 2 * SEC), max_size=50))
def test_never_more_orders_than_burst_plus_rate_times_elapsed(gaps: list[int]) -> None:
    b, t, taken = TokenBucket.full(LIMIT, 0), 0, 0
    for gap in gaps:
        t += gap
        nxt = b.take(LIMIT, t)
        if nxt is not None:
            b, taken = nxt, taken + 1
    assert taken <= LIMIT.burst + LIMIT.per_second * t / SEC
