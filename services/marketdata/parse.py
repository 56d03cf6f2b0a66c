"""Venue → domain: Coinbase's raw Structs into our bus messages, rejecting junk.

Everything here is pure. A value that is NaN, infinite or negative raises `MalformedMessageError`;
so does an unparseable timestamp. Callers count and skip, never crash.
"""

from __future__ import annotations

from decimal import Decimal

from services.marketdata.errors import MalformedMessageError
from services.marketdata.schemas import TickerItem, TradeItem
from shared.messages import Side, Ticker, Trade
from shared.timefmt import parse_rfc3339_ns


def checked(value: Decimal, what: str) -> Decimal:
    """`value` if finite and not negative; otherwise the message is malformed."""
    if value.is_finite() and value >= 0:
        return value
    raise MalformedMessageError(f"{what} is not a finite non-negative number: {value}")


def rfc3339_ns(text: str) -> int:
    """RFC3339 with up to nanosecond fractions (Coinbase sends 9 digits) → integer epoch ns."""
    try:
        return parse_rfc3339_ns(text)
    except ValueError as exc:
        raise MalformedMessageError(str(exc)) from None


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
