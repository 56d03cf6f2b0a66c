"""The one token bucket: `RateLimit` and the immutable `TokenBucket`, driven by the caller's time
(pure: `shared.throttle` puts it on a clock for one process's own request rate).

A bucket starts full (`burst` tokens), refills at `per_second`, and never holds more than `burst`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import msgspec

from shared.messages.checks import positive, positive_int

_NS_PER_S = Decimal(1_000_000_000)


class RateLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A sustained rate and the burst allowed on top of it."""

    per_second: Decimal
    """Tokens (orders) added per second."""
    burst: int
    """Bucket capacity: how many orders may go out back to back after a quiet spell."""

    def __post_init__(self) -> None:
        positive("per_second", self.per_second)
        positive_int("burst", self.burst)


class TokenBucket(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Tokens left as of `updated_ns`. Use `TokenBucket.full(limit, now)` for a fresh one."""

    tokens: Decimal
    updated_ns: int

    @classmethod
    def full(cls, limit: RateLimit, now_ns: int) -> TokenBucket:
        """A bucket that has been quiet long enough to be full."""
        return cls(tokens=Decimal(limit.burst), updated_ns=now_ns)

    def refilled(self, limit: RateLimit, now_ns: int) -> TokenBucket:
        """The bucket as of `now_ns`. Time that runs backwards adds nothing (and is not stored)."""
        elapsed = now_ns - self.updated_ns
        if elapsed <= 0:
            return self
        tokens = min(Decimal(limit.burst), self.tokens + limit.per_second * elapsed / _NS_PER_S)
        return TokenBucket(tokens=tokens, updated_ns=now_ns)

    def take(self, limit: RateLimit, now_ns: int, n: int = 1) -> TokenBucket | None:
        """The bucket after taking `n` tokens, or None when there are not enough."""
        current = self.refilled(limit, now_ns)
        if current.tokens < n:
            return None
        return TokenBucket(tokens=current.tokens - n, updated_ns=current.updated_ns)

    def wait_ns(self, limit: RateLimit, now_ns: int, n: int = 1) -> int:
        """How long from `now_ns` until `n` tokens are there (0 when they already are)."""
        missing = n - self.refilled(limit, now_ns).tokens
        if missing <= 0:
            return 0
        return int((missing * _NS_PER_S / limit.per_second).to_integral_value(rounding=ROUND_CEILING))
