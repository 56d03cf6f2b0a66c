"""Token buckets for order rate limits, immutable and driven by the caller's time.

A bucket starts full (`burst` tokens), refills at `per_second`, and never holds more than `burst`.
Rejected orders take no token, so a strategy spamming bad intents cannot starve its good ones.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.risk._checks import positive, positive_int

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


class RateBuckets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every rate-limit bucket risk keeps: one per venue and one per strategy. Treat as a value."""

    venue: dict[str, TokenBucket] = {}
    strategy: dict[str, TokenBucket] = {}

    def take(
        self, *, venue: str, strategy_id: str, venue_limit: RateLimit, strategy_limit: RateLimit, now_ns: int
    ) -> RateBuckets | None:
        """Take one token from both the venue's and the strategy's bucket, or None if either is empty."""
        v = self.venue.get(venue, TokenBucket.full(venue_limit, now_ns))
        s = self.strategy.get(strategy_id, TokenBucket.full(strategy_limit, now_ns))
        v_next = v.take(venue_limit, now_ns)
        s_next = s.take(strategy_limit, now_ns)
        if v_next is None or s_next is None:
            return None
        return RateBuckets(
            venue={**self.venue, venue: v_next}, strategy={**self.strategy, strategy_id: s_next}
        )
