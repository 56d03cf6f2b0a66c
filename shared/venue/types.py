"""Small enums shared by the venue core; values are Coinbase's own spellings."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """Order side as Coinbase spells it."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        """The side a taker of this side matches against."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderStatus(StrEnum):
    """REST order status values the core produces."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        """True once the order can no longer change."""
        return self not in (OrderStatus.PENDING, OrderStatus.OPEN)


class TimeInForce(StrEnum):
    """Time in force as reported in REST and user-channel orders."""

    GTC = "GOOD_UNTIL_CANCELLED"
    GTD = "GOOD_UNTIL_DATE_TIME"
    IOC = "IMMEDIATE_OR_CANCEL"
    FOK = "FILL_OR_KILL"


class OrderType(StrEnum):
    """Order type as reported in REST orders."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"


class Liquidity(StrEnum):
    """Fill liquidity indicator."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class ProductType(StrEnum):
    """Product type: spot or CFM future."""

    SPOT = "SPOT"
    FUTURE = "FUTURE"
