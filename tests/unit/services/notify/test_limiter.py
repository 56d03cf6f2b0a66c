"""The rate limiter: an incident sends one message and one digest, not a thousand."""

from __future__ import annotations

from services.notify.core import Kind, Note, fill_note
from services.notify.limiter import RateLimiter

from .helpers import T0, S, fill


def limiter(fills_s: float = 60.0) -> RateLimiter:
    return RateLimiter({Kind.FILL: fills_s, Kind.HALT: 10.0})


def test_a_burst_of_1000_fills_sends_one_message_then_one_digest() -> None:
    lim = limiter()
    sent = [n for i in range(1000) for n in lim.offer(fill_note(fill(i)), T0 + i * 1_000_000)]
    assert len(sent) == 1
    assert "t0" not in sent[0].body  # one line per fill, no trade id noise
    assert lim.flush(T0 + 59 * S) == []  # the interval has not ended
    (digest,) = lim.flush(T0 + 60 * S)
    assert digest.body.startswith("… and 999 more fills in the last 60 s; latest: BUY 0.001 BTC-USD")
    assert digest.title.endswith("(+999 more)")
    assert lim.flush(T0 + 200 * S) == []  # nothing more was held back


def test_the_digest_opens_the_next_interval() -> None:
    lim = limiter()
    lim.offer(fill_note(fill(1)), T0)
    lim.offer(fill_note(fill(2)), T0 + S)
    assert len(lim.flush(T0 + 60 * S)) == 1
    assert lim.offer(fill_note(fill(3)), T0 + 61 * S) == []  # within the digest's interval
    (digest,) = lim.flush(T0 + 120 * S)
    assert "1 more fills" in digest.body


def test_a_note_after_an_ended_interval_carries_the_pending_digest() -> None:
    """Without a flush in between, the next note goes out as the digest (never two messages at once)."""
    lim = limiter()
    lim.offer(fill_note(fill(1)), T0)
    lim.offer(fill_note(fill(2)), T0 + S)
    (out,) = lim.offer(fill_note(fill(3)), T0 + 61 * S)
    assert out.body.startswith("… and 2 more fills in the last 61 s")


def test_a_quiet_key_sends_every_note_after_its_interval() -> None:
    lim = limiter()
    assert len(lim.offer(fill_note(fill(1)), T0)) == 1
    assert lim.flush(T0 + 61 * S) == []
    assert len(lim.offer(fill_note(fill(2)), T0 + 62 * S)) == 1


def test_distinct_keys_and_kinds_are_limited_independently() -> None:
    lim = limiter()
    paper = fill_note(fill(1, venue="coinbase-paper"))
    live = fill_note(fill(2, venue="coinbase"))
    halt = Note(Kind.HALT, "risk", "Trading halted", "x")
    assert lim.offer(paper, T0) == [paper]
    assert lim.offer(live, T0) == [live]
    assert lim.offer(halt, T0) == [halt]
    assert lim.offer(paper, T0 + S) == []
    assert lim.offer(halt, T0 + 11 * S) == [halt]  # its own, shorter interval


def test_a_kind_without_an_interval_is_never_limited() -> None:
    lim = RateLimiter({Kind.FILL: 0.0})
    notes = [n for i in range(5) for n in lim.offer(fill_note(fill(i)), T0)]
    assert len(notes) == 5
    assert lim.flush(T0 + 3600 * S) == []
