"""RFC 3339 times ↔ integer epoch nanoseconds: the one parser and formatter every module uses.

The parser runs once per market-data frame, so it is hand-rolled: the whole seconds come from a
cache (consecutive frames share the second) and only the fraction and the zone are read each time.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

NS_PER_S = 1_000_000_000
_second_cache: dict[str, int] = {}
_CACHE_LIMIT = 4096


def _whole_seconds(head: str) -> int:
    """Epoch seconds of `YYYY-MM-DDTHH:MM:SS` (UTC)."""
    cached = _second_cache.get(head)
    if cached is None:
        if len(head) != 19 or head[10] not in "Tt ":
            raise ValueError(f"bad timestamp: {head!r}")
        try:
            parsed = datetime.fromisoformat(head[:10] + "T" + head[11:])
        except ValueError:
            raise ValueError(f"bad timestamp: {head!r}") from None
        cached = calendar.timegm(parsed.timetuple())
        if len(_second_cache) >= _CACHE_LIMIT:
            _second_cache.clear()
        _second_cache[head] = cached
    return cached


def _offset_seconds(zone: str) -> int:
    """Seconds east of UTC of `Z`, `±HH:MM` or no zone at all (read as UTC)."""
    if zone in ("Z", "z", "+00:00", ""):
        return 0
    if len(zone) == 6 and zone[0] in "+-" and zone[3] == ":" and zone[1:3].isdigit() and zone[4:].isdigit():
        sign = 1 if zone[0] == "+" else -1
        return sign * (int(zone[1:3]) * 3600 + int(zone[4:]) * 60)
    raise ValueError(f"bad timestamp zone: {zone!r}")


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 → epoch ns. Up to 9 fraction digits are kept (more are cut); no zone reads as UTC.

    Raises `ValueError` on anything else; callers decide whether that is a reject, a skip or a 0.
    """
    seconds = _whole_seconds(text[:19])
    rest = text[19:]
    fraction = 0
    if rest[:1] == ".":
        body = rest[1:]
        digits = body[: len(body) - len(body.lstrip("0123456789"))]
        if not digits:
            raise ValueError(f"bad timestamp: {text!r}")
        fraction = int((digits + "00000000")[:9])
        rest = body[len(digits) :]
    return (seconds - _offset_seconds(rest)) * NS_PER_S + fraction


def format_rfc3339(ns: int, *, digits: int = 9) -> str:
    """Epoch ns → RFC 3339 in UTC with a `Z` and `digits` fraction digits (cut, never rounded up).

    Nine digits is how Coinbase writes envelope and order times; query parameters take six.
    """
    seconds, fraction = divmod(ns, NS_PER_S)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits <= 0:
        return base + "Z"
    return f"{base}.{f'{fraction:09d}'[:digits]}Z"
