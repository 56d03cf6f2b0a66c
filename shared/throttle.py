"""`Throttle`: the pure token bucket of `shared.ratelimit` on a clock, for one process's own requests.

Kept apart from `shared.ratelimit` so the bucket stays a pure core (no clock, no asyncio) that risk's
pre-trade checks can use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from shared.ratelimit import RateLimit, TokenBucket


class Throttle:
    """A `TokenBucket` on a clock, for one process's own requests (a client's calls, the
    simulator's 429s): `take` answers at once, `acquire` waits its turn. Full at first use."""

    def __init__(
        self, per_second: float, *, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = RateLimit(
            per_second=Decimal(str(per_second)), burst=max(1, int(per_second)) if burst is None else burst
        )
        self._clock = clock
        self._bucket: TokenBucket | None = None
        self._lock = asyncio.Lock()

    def _take(self, now_ns: int) -> int:
        """Spend one token at `now_ns`: 0 when done, else the ns to wait before one is there."""
        bucket = self._bucket or TokenBucket.full(self.limit, now_ns)
        taken = bucket.take(self.limit, now_ns)
        self._bucket = bucket if taken is None else taken
        return 0 if taken is not None else max(1, bucket.wait_ns(self.limit, now_ns))

    def take(self, now_s: float) -> bool:
        """Spend one token at `now_s` (seconds on the clock); False when there is none."""
        return self._take(int(now_s * 1_000_000_000)) == 0

    async def acquire(self) -> None:
        """Take one token, sleeping until one is available (callers queue in turn)."""
        async with self._lock:
            now_ns = self._clock_ns()
            wait_ns = self._take(now_ns)
            if wait_ns:
                await asyncio.sleep(wait_ns / 1e9)
                self._take(max(self._clock_ns(), now_ns + wait_ns))  # a token is there by then

    def _clock_ns(self) -> int:
        return int(self._clock() * 1_000_000_000)
