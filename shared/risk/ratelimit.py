"""Risk's order rate limits: one token bucket per venue and per strategy (`shared.ratelimit`).

Rejected orders take no token, so a strategy spamming bad intents cannot starve its good ones.
"""

from __future__ import annotations

import msgspec

from shared.ratelimit import RateLimit, TokenBucket


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
