"""The fills cursor: a high-water mark plus the trade ids at it, and an overlap window behind it for
fills the venue lists late, so nothing is missed or repeated."""

from __future__ import annotations

from services.execution.coinbase.fills import FillsCursor, SeenTrades, advance, in_window, is_new
from services.execution.coinbase.schemas import RestFill


def fill(trade_id: str, second: int) -> RestFill:
    stamp = f"2026-11-24T10:00:{second:02d}.000000001Z"
    return RestFill(trade_id=trade_id, order_id="o", price="1", size="1", sequence_timestamp=stamp)


def test_advance_keeps_the_ids_at_the_newest_instant() -> None:
    cursor = FillsCursor(sequence_ns=0)
    a, b, c = fill("a", 1), fill("b", 2), fill("c", 2)
    moved = advance(cursor, [a, b, c])
    assert moved.trade_ids == ("b", "c")
    assert not any(is_new(moved, f) for f in (a, b, c))
    d = fill("d", 2)  # same instant, arrived later: still new
    assert is_new(moved, d)
    again = advance(moved, [d])
    assert again.trade_ids == ("b", "c", "d")
    assert again.sequence_ns == moved.sequence_ns
    assert is_new(again, fill("e", 3))


def test_advance_never_moves_backwards() -> None:
    cursor = advance(FillsCursor(sequence_ns=0), [fill("x", 5)])
    assert advance(cursor, [fill("old", 1)]) == cursor
    assert advance(cursor, []) == cursor


def test_timestamps_fall_back_to_trade_time() -> None:
    raw = RestFill(trade_id="t", order_id="o", price="1", size="1", trade_time="2026-11-24T10:00:00Z")
    assert is_new(FillsCursor(sequence_ns=0), raw)


def test_the_overlap_window_reaches_behind_the_mark() -> None:
    cursor = advance(FillsCursor(sequence_ns=0), [fill("newest", 30)])
    late = fill("late", 5)  # happened 25 s before the mark, listed only now
    assert not is_new(cursor, late)  # the mark alone would skip it for good
    assert in_window(cursor, late, overlap_ns=60 * 10**9)
    assert not in_window(cursor, late, overlap_ns=10 * 10**9)
    assert in_window(cursor, fill("next", 31), overlap_ns=0)
    assert not in_window(cursor, late, overlap_ns=0)


def test_seen_trades_forget_the_oldest_beyond_the_limit() -> None:
    seen = SeenTrades(3)
    seen.add(["a", "b", "c"])
    seen.add(["a"])  # seen again: now the newest
    seen.add(["d"])
    assert "b" not in seen
    assert all(t in seen for t in ("a", "c", "d"))
    assert len(seen) == 3
