"""The paper venue's memory in KV `paper_account`: the simulated account and one record per order.

Execution's paper adapter writes them (`paper_account_key`, `paper_order_key`); reconciliation reads them as
the paper venue's own account. Records are the truth and the account is a checkpoint: every fill
gets the next number of the account (`fill_nos`) and the account says through which number it is
booked (`fills_booked`); execution writes it only after the records it reflects.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.messages.orders import Fill, Order, OrderStatus
from shared.money import ZERO

OPEN = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
"""The statuses of an order still resting at the paper venue."""


def paper_account_key(venue: str, account_id: str) -> str:
    """Key of the paper account of `account_id` at `venue`."""
    return f"{venue}.{account_id}.account"


def paper_order_prefix(venue: str, account_id: str) -> str:
    """What every order record key of that account starts with."""
    return f"{venue}.{account_id}.order."


def paper_order_key(venue: str, account_id: str, client_order_id: str) -> str:
    """Key of one order record."""
    return paper_order_prefix(venue, account_id) + client_order_id


class PaperPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A futures position of the simulated account."""

    contracts: Decimal
    avg_entry_price: Decimal
    realized_pnl: Decimal = ZERO
    margin_held: Decimal = ZERO
    total_fees: Decimal = ZERO


class PaperAccountState(msgspec.Struct, frozen=True, kw_only=True):
    """Balances, holds (informational: they are rebuilt from open orders and margin) and positions."""

    balances: dict[str, Decimal]
    holds: dict[str, Decimal] = msgspec.field(default_factory=dict)
    positions: dict[str, PaperPosition] = msgspec.field(default_factory=dict)
    fills_booked: int = 0  # fills numbered up to this one are in the balances and positions


class PaperOrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One paper order: the approved order, its outcome so far and every fill it got."""

    order: Order
    venue_order_id: str = ""
    status: OrderStatus = OrderStatus.ACCEPTED
    fills: tuple[Fill, ...] = ()
    fill_nos: tuple[int, ...] = ()  # the account's number of each fill (absent in older records)
    reason: str = ""

    @property
    def numbered_fills(self) -> tuple[tuple[int, Fill], ...]:
        """(number, fill) of the fills that have one: the latest ones (older records had none)."""
        numbered = self.fills[len(self.fills) - len(self.fill_nos) :]
        return tuple(zip(self.fill_nos, numbered, strict=True))

    @property
    def filled_size(self) -> Decimal:
        """Cumulative filled size (contracts for futures)."""
        return sum((f.size for f in self.fills), ZERO)

    @property
    def average_price(self) -> Decimal | None:
        """Volume-weighted fill price, None before the first fill."""
        size = self.filled_size
        return sum((f.size * f.price for f in self.fills), ZERO) / size if size > ZERO else None

    @property
    def is_open(self) -> bool:
        """Resting (possibly partly filled): market data may still fill it."""
        return self.status in OPEN
