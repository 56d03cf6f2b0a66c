"""Feed health: connection state, counters and staleness, turned into `FeedStatus`. Pure (time passed in)."""

from __future__ import annotations

from shared.messages import FeedStatus

StatusKey = tuple[bool, bool, int, int, int, str]


class FeedHealth:
    """Everything `/ready`, `FeedStatus` and the watchdog need to know about the feed.

    With `require_heartbeats` (the live venue), liveness means a heartbeat: data can keep flowing
    on a connection whose subscriptions are dying. Replay and synthetic sources count any message.
    """

    def __init__(
        self, venue: str, products: tuple[str, ...], stale_after_ns: int, *, require_heartbeats: bool
    ) -> None:
        self.venue = venue
        self.products = products
        self.stale_after_ns = stale_after_ns
        self.require_heartbeats = require_heartbeats
        self.connected = False
        self.connected_ns = 0
        self.connections = 0
        self.reconnects = 0
        self.gaps = 0
        self.malformed = 0
        self.unknown = 0
        self.venue_errors = 0
        self.messages = 0
        self.last_message_ns = 0
        self.last_heartbeat_ns = 0
        self.reason = "not connected yet"

    def on_connected(self, now_ns: int) -> None:
        """A connection is up (every connection after the first counts as a reconnect)."""
        self.connections += 1
        if self.connections > 1:
            self.reconnects += 1
        self.connected = True
        self.connected_ns = now_ns
        self.reason = ""

    def on_disconnected(self, reason: str) -> None:
        """The connection is gone; `reason` says why (close code, watchdog, error)."""
        self.connected = False
        self.reason = reason

    def liveness_ns(self) -> int:
        """When the feed last proved alive (never earlier than the current connection's start)."""
        seen = self.last_heartbeat_ns if self.require_heartbeats else self.last_message_ns
        return max(seen, self.connected_ns)

    def is_stale(self, now_ns: int) -> bool:
        """Disconnected, or no sign of life for longer than `stale_after`."""
        return not self.connected or now_ns - self.liveness_ns() > self.stale_after_ns

    def ready(self, now_ns: int) -> bool:
        """What `/ready` reports for the feed."""
        return self.connected and not self.is_stale(now_ns)

    def key(self, now_ns: int) -> StatusKey:
        """The fields whose change triggers an immediate `FeedStatus`."""
        return (
            self.connected,
            self.is_stale(now_ns),
            self.gaps,
            self.reconnects,
            self.malformed,
            self.reason,
        )

    def status(self, now_ns: int) -> FeedStatus:
        """The bus message for the current state."""
        stale = self.is_stale(now_ns)
        reason = self.reason or ("no heartbeat" if stale else "")
        return FeedStatus(
            venue=self.venue,
            connected=self.connected,
            stale=stale,
            products=self.products,
            gaps=self.gaps,
            reconnects=self.reconnects,
            malformed=self.malformed,
            last_message_ns=self.last_message_ns,
            time_ns=now_ns,
            reason=reason,
        )

    def detail(self, now_ns: int) -> dict[str, object]:
        """JSON for `/ready`'s details."""
        age = (now_ns - self.liveness_ns()) / 1e9 if self.connected else None
        return {
            "connected": self.connected,
            "stale": self.is_stale(now_ns),
            "liveness_age_s": age,
            "gaps": self.gaps,
            "reconnects": self.reconnects,
            "malformed": self.malformed,
            "messages": self.messages,
            "reason": self.reason,
        }
