"""Sequence-gap detection and the reconnect backoff schedule."""

from __future__ import annotations

import random

import pytest

from services.marketdata.sequence import SequenceTracker, Verdict
from shared.backoff import Backoff


def test_consecutive_numbers_are_ok_and_the_first_one_is_the_baseline() -> None:
    tracker = SequenceTracker()
    assert [tracker.observe(n) for n in (5, 6, 7)] == [Verdict.OK] * 3
    assert tracker.gaps == 0


def test_a_jump_is_a_gap_that_counts_the_missing_messages_and_moves_on() -> None:
    tracker = SequenceTracker()
    verdicts = [tracker.observe(n) for n in (0, 1, 4, 5)]
    assert verdicts == [Verdict.OK, Verdict.OK, Verdict.GAP, Verdict.OK]
    assert tracker.gaps == 1
    assert tracker.missed == 2


def test_late_and_duplicate_numbers_are_stale() -> None:
    tracker = SequenceTracker()
    assert [tracker.observe(n) for n in (0, 2, 1, 2, 3)] == [
        Verdict.OK,
        Verdict.GAP,
        Verdict.STALE,
        Verdict.STALE,
        Verdict.OK,
    ]
    assert tracker.stale == 2


def test_a_new_connection_restarts_at_any_number_and_unnumbered_messages_pass() -> None:
    tracker = SequenceTracker()
    tracker.observe(0)
    tracker.observe(1)
    tracker.reset()
    assert tracker.observe(0) is Verdict.OK
    assert tracker.observe(-1) is Verdict.OK
    assert tracker.last == 0


def test_backoff_doubles_with_jitter_within_bounds_and_caps() -> None:
    backoff = Backoff(0.25, 4.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed ladder


def test_backoff_reset_starts_again_small_and_the_schedule_is_seeded() -> None:
    one, two = Backoff(0.25, 30, random.Random(1)), Backoff(0.25, 30, random.Random(1))
    assert [one.next_delay() for _ in range(5)] == [two.next_delay() for _ in range(5)]
    one.reset()
    assert one.next_delay() <= 0.25
    assert Backoff(1, 30).ceiling(10_000) == 30


def test_backoff_rejects_a_base_above_the_cap() -> None:
    with pytest.raises(ValueError, match="base_s"):
        Backoff(5, 1)
