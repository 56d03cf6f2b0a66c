"""The rate limiter, pure: at most one message per (kind, key) per interval, the rest folded into a
digest, so an incident sends one message and "… and 37 more fills in the last 60 s", not a thousand.
Time is always an argument."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from services.notify.core import NOUNS, NS, Kind, Note


@dataclass
class _Window:
    sent_ns: int
    suppressed: int = 0
    latest: Note | None = None


@dataclass
class RateLimiter:
    """At most one message per (kind, key) per interval. Notes inside the interval are counted, and
    when it ends (`flush`, or the next note) one digest goes out: "… and 37 more fills in the last 60 s"
    with the latest of them, which opens the next interval. Kinds without an interval pass freely."""

    intervals_s: Mapping[Kind, float]
    windows: dict[tuple[Kind, str], _Window] = field(default_factory=dict)

    def _interval_ns(self, kind: Kind) -> int:
        return int(self.intervals_s.get(kind, 0.0) * NS)

    def offer(self, note: Note, now_ns: int) -> list[Note]:
        """What to send now for a new note: the note itself, a digest including it, or nothing."""
        interval = self._interval_ns(note.kind)
        if interval <= 0:
            return [note]
        slot = (note.kind, note.key)
        window = self.windows.get(slot)
        if window is None or (now_ns - window.sent_ns >= interval and window.suppressed == 0):
            self.windows[slot] = _Window(now_ns)
            return [note]
        window.suppressed += 1
        window.latest = note
        if now_ns - window.sent_ns >= interval:
            return [self._digest(slot, window, now_ns)]
        return []

    def flush(self, now_ns: int) -> list[Note]:
        """Digests of every interval that has ended with notes held back; idle windows are forgotten."""
        out = []
        for slot, window in list(self.windows.items()):
            if now_ns - window.sent_ns < self._interval_ns(slot[0]):
                continue
            if window.suppressed:
                out.append(self._digest(slot, window, now_ns))
            else:
                del self.windows[slot]
        return out

    def _digest(self, slot: tuple[Kind, str], window: _Window, now_ns: int) -> Note:
        latest = window.latest
        assert latest is not None
        seconds = round((now_ns - window.sent_ns) / NS)
        head = f"… and {window.suppressed} more {NOUNS[slot[0]]} in the last {seconds} s"
        note = replace(
            latest, title=f"{latest.title} (+{window.suppressed} more)", body=f"{head}; latest: {latest.body}"
        )
        self.windows[slot] = _Window(now_ns)
        return note
