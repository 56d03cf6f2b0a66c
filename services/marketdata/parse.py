"""Venue → domain: Coinbase's raw Structs into our bus messages, rejecting junk (STYLE #6).

Everything here is pure. A value that is NaN, infinite or negative raises `MalformedMessageError`;
so does an unparseable timestamp. Callers count and skip, never crash.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from decimal import Decimal

from services.marketdata.errors import MalformedMessageError
from services.marketdata.schemas import TickerItem, TradeItem
from shared.messages import Side, Ticker, Trade

_NS = 1_000_000_000
_second_cache: dict[str, int] = {}
_CACHE_LIMIT = 4096


def checked(value: Decimal, what: str) -> Decimal:
    """`value` if finite and not negative; otherwise the message is malformed."""
    if value.is_finite() and value >= 0:
        return value
    raise MalformedMessageError(f"{what} is not a finite non-negative number: {value}")


def _whole_seconds(head: str) -> int:
    """Epoch seconds of `YYYY-MM-DDTHH:MM:SS` (UTC), cached: consecutive frames share the second."""
    cached = _second_cache.get(head)
    if cached is None:
        if len(head) != 19 or head[10] not in "Tt ":
            raise MalformedMessageError(f"bad timestamp: {head!r}")
        try:
            parsed = datetime.fromisoformat(head[:10] + "T" + head[11:])
        except ValueError:
            raise MalformedMessageError(f"bad timestamp: {head!r}") from None
        cached = calendar.timegm(parsed.timetuple())
        if len(_second_cache) >= _CACHE_LIMIT:
            _second_cache.clear()
        _second_cache[head] = cached
    return cached


def _offset_seconds(zone: str) -> int:
    if zone in ("Z", "z", "+00:00", ""):
        return 0
    if len(zone) == 6 and zone[0] in "+-" and zone[3] == ":" and zone[1:3].isdigit() and zone[4:].isdigit():
        sign = 1 if zone[0] == "+" else -1
        return sign * (int(zone[1:3]) * 3600 + int(zone[4:]) * 60)
    raise MalformedMessageError(f"bad timestamp zone: {zone!r}")


def rfc3339_ns(text: str) -> int:
    """RFC3339 with up to nanosecond fractions (Coinbase sends 9 digits) → integer epoch ns.

    Hand-rolled because it runs once per frame: the whole seconds come from a cache, and only the
    fraction and the zone are parsed each time.
    """
    seconds = _whole_seconds(text[:19])
    rest = text[19:]
    if rest == "Z":
        return seconds * _NS
    fraction = 0
    if rest[:1] == ".":
        if rest[-1:] in ("Z", "z"):
            digits, zone = rest[1:-1], ""
        elif len(rest) > 7 and rest[-6] in "+-":
            digits, zone = rest[1:-6], rest[-6:]
        else:
            raise MalformedMessageError(f"bad timestamp: {text!r}")
        if not (digits.isascii() and digits.isdigit()):
            raise MalformedMessageError(f"bad timestamp: {text!r}")
        fraction = int((digits + "00000000")[:9])
        rest = zone
    return (seconds - _offset_seconds(rest)) * _NS + fraction


def frame_time_ns(timestamp: str, fallback_ns: int) -> int:
    """The envelope time, or the receive time when the venue left it out."""
    return rfc3339_ns(timestamp) if timestamp else fallback_ns


def to_ticker(item: TickerItem, venue: str, exchange_ns: int, receive_ns: int, sequence: int) -> Ticker:
    """A venue ticker as our `Ticker`: best bid/ask with sizes and the last trade price."""
    return Ticker(
        venue=venue,
        product_id=item.product_id,
        bid=checked(item.best_bid, "best_bid"),
        ask=checked(item.best_ask, "best_ask"),
        bid_size=checked(item.best_bid_quantity, "best_bid_quantity"),
        ask_size=checked(item.best_ask_quantity, "best_ask_quantity"),
        last=checked(item.price, "price"),
        exchange_time_ns=exchange_ns,
        receive_time_ns=receive_ns,
        sequence=sequence,
    )


_AGGRESSOR_OF_MAKER = {"BUY": Side.SELL, "SELL": Side.BUY}


def to_trade(item: TradeItem, venue: str, receive_ns: int) -> Trade:
    """A venue trade as our `Trade`. Coinbase reports the maker's side; our contract wants the taker's."""
    side = _AGGRESSOR_OF_MAKER.get(item.side.upper())
    if side is None:
        raise MalformedMessageError(f"unknown trade side: {item.side!r}")
    return Trade(
        venue=venue,
        product_id=item.product_id,
        trade_id=item.trade_id,
        price=checked(item.price, "price"),
        size=checked(item.size, "size"),
        side=side,
        exchange_time_ns=rfc3339_ns(item.time),
        receive_time_ns=receive_ns,
    )
