"""The venue core's own enums. Side, order type and liquidity are the bus's (`shared.messages`); the
two below keep Coinbase's REST spellings and members, which the simulator renders verbatim."""

from __future__ import annotations

from enum import StrEnum


class CoinbaseOrderStatus(StrEnum):
    """Coinbase's REST order status: other members and spellings than the bus's `OrderStatus`."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        """True once the order can no longer change."""
        return self not in (CoinbaseOrderStatus.PENDING, CoinbaseOrderStatus.OPEN)


class CoinbaseTimeInForce(StrEnum):
    """Time in force as Coinbase spells it in REST and user-channel orders (the bus uses short codes)."""

    GTC = "GOOD_UNTIL_CANCELLED"
    GTD = "GOOD_UNTIL_DATE_TIME"
    IOC = "IMMEDIATE_OR_CANCEL"
    FOK = "FILL_OR_KILL"


class ProductType(StrEnum):
    """Product type: spot or CFM future."""

    SPOT = "SPOT"
    FUTURE = "FUTURE"
