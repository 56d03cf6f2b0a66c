"""Common building blocks of every bus message."""

from __future__ import annotations

import enum

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Base of every bus message: immutable and keyword-only.

    Unknown fields are tolerated on decode so a newer producer can add a field without breaking an
    older consumer during a rolling deploy.
    """


class Side(enum.StrEnum):
    """Order side, spelled as Coinbase spells it."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign a fill gives the position."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The side that closes a position opened on this side."""
        return Side.SELL if self is Side.BUY else Side.BUY
