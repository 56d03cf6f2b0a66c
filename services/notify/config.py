"""Notification settings: where messages go (Apprise URLs), which kinds are sent, how often.

`ALGOPIONEER_NOTIFY__URLS="tgram://… json://host/path"` (space-separated; a TOML list in the config
file), or `..._URLS_FILE` naming a file with one URL per line (a mounted secret: the URLs carry
tokens, so they are never logged). Per kind: `ALGOPIONEER_NOTIFY__FILLS__ENABLED=false`,
`ALGOPIONEER_NOTIFY__FILLS__MIN_INTERVAL_S=300`; and `..._NOT_READY_AFTER_S`, `..._DAILY_SUMMARY_UTC`.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from shared.config import ServiceSettings

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class KindSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One kind of notification: sent or not, and at most one message per `min_interval_s` per key
    (the rest become one digest when the interval ends)."""

    enabled: bool = True
    """Send this kind at all."""
    min_interval_s: float = 60.0
    """Least time between two messages of one key (a venue's fills, one service); 0: no limit."""

    def __post_init__(self) -> None:
        if self.min_interval_s < 0:
            raise ValueError("min_interval_s must not be negative")


def _kind(interval_s: float) -> KindSettings:
    return KindSettings(min_interval_s=interval_s)


class NotifySettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The notification service."""

    urls: str | tuple[str, ...] = ()
    """Apprise URLs (Telegram `tgram://`, Slack, Discord, e-mail `mailto://`, webhooks `json://`);
    a string may hold several, separated by spaces. None: messages are only logged."""
    urls_file: str = ""
    """A file with more URLs, one per line (`#` comments); a missing file adds none."""
    title: str = "algopioneer"
    """Prefix of every message title (name the stack when several notify one channel)."""
    fills: KindSettings = msgspec.field(default_factory=lambda: _kind(60.0))
    """Every fill, one line each; keyed by venue (paper and live apart)."""
    halts: KindSettings = msgspec.field(default_factory=lambda: _kind(10.0))
    """Kill switch on (halt, with its reason) and off (resume)."""
    breaker: KindSettings = msgspec.field(default_factory=lambda: _kind(60.0))
    """The circuit breaker opening (a trip) and closing again."""
    naked_legs: KindSettings = msgspec.field(default_factory=lambda: _kind(60.0))
    """Reconciliation unwound a naked leg past its bound, or an instance stayed unhedged; per instance."""
    recon: KindSettings = msgspec.field(default_factory=lambda: _kind(300.0))
    """Any other reconciliation finding (new ones only: a standing difference is told once); per venue."""
    not_ready: KindSettings = msgspec.field(default_factory=lambda: _kind(300.0))
    """A service not ready (or without a heartbeat) for `not_ready_after_s`, and ready again."""
    daily_summary: KindSettings = msgspec.field(default_factory=lambda: _kind(0.0))
    """The PnL of the day, once a day at `daily_summary_utc`."""
    not_ready_after_s: float = 60.0
    """How long a service may stay not ready before it is reported."""
    readiness_check_s: float = 5.0
    """How often the heartbeats in KV `services` are read."""
    daily_summary_utc: str = "21:00"
    """When the daily summary goes out, `HH:MM` UTC."""
    send_timeout_s: float = 10.0
    """Per-message timeout of a delivery."""
    queue_size: int = 100
    """Messages waiting for delivery; beyond it the oldest are dropped (and counted)."""

    def __post_init__(self) -> None:
        if not _HHMM.match(self.daily_summary_utc):
            raise ValueError("daily_summary_utc must be HH:MM (UTC, 24-hour)")
        for name in ("not_ready_after_s", "readiness_check_s", "send_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        for url in self.inline_urls():
            if "://" not in url:  # the URL itself is never shown: it may carry a token
                raise ValueError("urls must be Apprise URLs (scheme://…); one has no scheme")

    def inline_urls(self) -> list[str]:
        """The URLs given in `urls`."""
        items = [self.urls] if isinstance(self.urls, str) else list(self.urls)
        return [u for item in items for u in item.split() if u]

    def all_urls(self) -> list[str]:
        """`urls` and the lines of `urls_file` (read at start)."""
        found = self.inline_urls()
        if self.urls_file:
            path = Path(self.urls_file)
            if path.is_file():
                lines = (line.strip() for line in path.read_text().splitlines())
                found += [line for line in lines if line and not line.startswith("#")]
        return found

    @property
    def daily_summary_minute(self) -> int:
        """`daily_summary_utc` as minutes after midnight UTC."""
        hours, minutes = self.daily_summary_utc.split(":")
        return int(hours) * 60 + int(minutes)
