"""Retry and reconnect delays: exponential with "equal jitter" (half fixed, half random), capped. Pure.

Half of each delay is fixed so a flapping venue is never hammered at near-zero intervals, and half
is random so many clients restarted together spread out.
"""

from __future__ import annotations

import random


class Backoff:
    """The delay before attempt n is uniform in [c/2, c], where c = min(cap, base·2ⁿ)."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError("base_s must be positive and at most cap_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt `attempt` can draw."""
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, 62))

    def next_delay(self) -> float:
        """The delay before the next attempt; each call moves one attempt further."""
        ceiling = self.ceiling(self.attempt)
        self.attempt += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """A connection proved healthy: start again from the base delay."""
        self.attempt = 0
