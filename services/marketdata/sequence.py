"""Per-connection `sequence_num` checking: pure, no I/O.

The number counts every message on a connection, starts again on every new connection, and a jump
of more than one means messages were dropped (there is no replay). A number at or below the last
one seen is a late or duplicate message and is ignored.
"""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    """What one sequence number means for the frame that carried it."""

    OK = "ok"
    GAP = "gap"
    STALE = "stale"


class SequenceTracker:
    """Tracks the last `sequence_num` of the current connection."""

    __slots__ = ("gaps", "last", "missed", "stale")

    def __init__(self) -> None:
        self.last = -1
        self.gaps = 0
        self.missed = 0
        self.stale = 0

    def reset(self) -> None:
        """A new connection: the next number (whatever it is) is the baseline."""
        self.last = -1

    def observe(self, sequence: int) -> Verdict:
        """Classify `sequence` and advance. A gap still advances: we resync from the newest frame."""
        if sequence < 0:
            return Verdict.OK  # no envelope (a venue error): nothing to check
        last = self.last
        if last < 0 or sequence == last + 1:
            self.last = sequence
            return Verdict.OK
        if sequence <= last:
            self.stale += 1
            return Verdict.STALE
        self.gaps += 1
        self.missed += sequence - last - 1
        self.last = sequence
        return Verdict.GAP
