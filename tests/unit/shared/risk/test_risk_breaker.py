"""Circuit breaker transitions, the single probe, and the error-rate window."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ConfigError
from shared.messages.risk import BreakerState
from shared.risk import Breaker, BreakerConfig

MS = 1_000_000
CFG = BreakerConfig(
    failure_threshold=3,
    window_size=10,
    window_ms=60_000,
    min_outcomes=4,
    error_rate=Decimal("0.5"),
    cooldown_ms=10_000,
    probe_timeout_ms=5_000,
)


def fail(b: Breaker, t: int, n: int = 1, order_id: str = "") -> Breaker:
    for i in range(n):
        b = b.record(t + i, CFG, ok=False, order_id=order_id)
    return b


def test_starts_closed_and_admits() -> None:
    ok, after = Breaker().admit(0, CFG, "a")
    assert ok
    assert after.state is BreakerState.CLOSED


def test_opens_after_n_consecutive_failures_and_success_resets_the_count() -> None:
    cfg = msgspec.structs.replace(CFG, min_outcomes=10)  # keep the error rate out of this test
    b = Breaker()
    for t in (0, 1):
        b = b.record(t, cfg, ok=False)
    b = b.record(10, cfg, ok=True)
    assert b.consecutive_failures == 0
    for t in (20, 21):
        b = b.record(t, cfg, ok=False)
    assert b.state is BreakerState.CLOSED
    b = b.record(30, cfg, ok=False)
    assert b.state is BreakerState.OPEN
    assert b.opened_ns == 30
    assert b.trips == 1
    assert b.admit(31, CFG, "x")[0] is False


def test_opens_on_error_rate_over_the_window() -> None:
    b = Breaker()
    for i, ok in enumerate([True, False, True, False]):  # 50% of 4, never 3 in a row
        b = b.record(i * MS, CFG, ok=ok)
    assert b.state is BreakerState.OPEN


def test_error_rate_needs_min_outcomes_and_forgets_old_ones() -> None:
    b = Breaker().record(0, CFG, ok=False)
    assert b.state is BreakerState.CLOSED  # 1 of 1 is not judged
    b = b.record(1, CFG, ok=True).record(2, CFG, ok=False)
    later = 61_000 * MS  # the first three are now outside the 60 s window
    b = b.record(later, CFG, ok=True).record(later + 1, CFG, ok=True).record(later + 2, CFG, ok=False)
    assert b.state is BreakerState.CLOSED
    assert len(b.outcomes) == 3


def test_cooldown_then_exactly_one_probe_then_close_on_its_success() -> None:
    b = fail(Breaker(), 0, 3)
    assert b.at(9_999 * MS, CFG).state is BreakerState.OPEN
    assert b.at(10_000 * MS + 2, CFG).state is BreakerState.HALF_OPEN
    t = 10_001 * MS
    ok, b = b.admit(t, CFG, "probe")
    assert ok
    assert b.probe_id == "probe"
    assert b.admit(t + 1, CFG, "second")[0] is False
    b = b.record(t + 2, CFG, ok=True, order_id="late-old-order")  # not the probe: does not close
    assert b.state is BreakerState.HALF_OPEN
    b = b.record(t + 3, CFG, ok=True, order_id="probe")
    assert b.state is BreakerState.CLOSED
    assert b.outcomes == ()
    assert b.trips == 1


def test_probe_failure_reopens_and_restarts_the_cooldown() -> None:
    b = fail(Breaker(), 0, 3)
    t = 20_000 * MS
    _, b = b.admit(t, CFG, "probe")
    b = b.record(t + 5, CFG, ok=False, order_id="probe")
    assert b.state is BreakerState.OPEN
    assert b.opened_ns == t + 5
    assert b.at(t + 5 + 9_999 * MS, CFG).state is BreakerState.OPEN
    assert b.at(t + 5 + 10_000 * MS, CFG).state is BreakerState.HALF_OPEN


def test_a_lost_probe_times_out_as_a_failure() -> None:
    b = fail(Breaker(), 0, 3)
    t = 10_000 * MS + 2
    ok, b = b.admit(t, CFG, "probe")
    assert ok
    assert b.at(t + 4_999 * MS, CFG).probe_id == "probe"
    timed_out = b.at(t + 5_000 * MS, CFG)
    assert timed_out.state is BreakerState.OPEN
    assert timed_out.opened_ns == t + 5_000 * MS
    # the reopened breaker cools down again, from when the probe timed out
    assert b.at(t + 15_000 * MS, CFG).state is BreakerState.HALF_OPEN


def test_state_round_trips_through_msgpack() -> None:
    b = fail(Breaker(), 0, 3)
    _, b = b.at(10_000 * MS, CFG).admit(10_000 * MS, CFG, "p")
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(b), type=Breaker) == b


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_threshold", 0),
        ("window_size", -1),
        ("window_ms", 0),
        ("min_outcomes", 11),
        ("error_rate", Decimal("1.5")),
        ("error_rate", Decimal("0")),
        ("error_rate", Decimal("NaN")),
        ("cooldown_ms", 0),
        ("probe_timeout_ms", 0),
    ],
)
def test_config_is_validated_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        BreakerConfig(**{"window_size": 10, field: value})  # type: ignore[arg-type]


_event = st.tuples(
    st.sampled_from(["admit", "admit", "fail", "fail", "fail", "ok"]),
    st.sampled_from([0, 1, 500, 2_000, 6_000, 11_000]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=60))
def test_never_two_probes_in_flight(events: list[tuple[str, int]]) -> None:
    """Whatever happens, half-open never admits a second order while its probe is out."""
    b, t, in_flight = Breaker(), 0, []
    for n, (kind, step_ms) in enumerate(events):
        t += step_ms * MS
        if kind == "admit":
            was = b.at(t, CFG)
            ok, b = b.admit(t, CFG, f"o{n}")
            if ok and was.state is not BreakerState.CLOSED:
                assert was.state is BreakerState.HALF_OPEN
                assert not was.probe_id
                assert b.probe_id == f"o{n}"
                in_flight.append(f"o{n}")
            assert ok or b.state is not BreakerState.CLOSED
        else:
            target = in_flight.pop() if in_flight else ""
            b = b.record(t, CFG, ok=kind == "ok", order_id=target)
        assert not (b.state is BreakerState.HALF_OPEN and b.probe_id and len(in_flight) > 1)
        if b.state is not BreakerState.HALF_OPEN:
            in_flight.clear()
