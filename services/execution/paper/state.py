"""Paper state in KV `paper_account`: the simulated account, and one record per order.

Order records are what makes paper placement exactly-once: a redelivered order whose record exists
is re-reported from it, never matched again. Records carry their fills so re-reporting is complete.

Records are the truth; the account is a checkpoint. Every fill gets the next number of the account
(`fill_nos`), the account says through which number it is booked (`fills_booked`), and it is only
written after the records it reflects. A process killed between the two writes leaves an account
behind its records, never ahead: the next one books the missing fills again (`book_fill`).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.messages import Fill, Order, OrderStatus
from shared.venue import Account, Position

ZERO = Decimal(0)
OPEN = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


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

    @classmethod
    def of(cls, account: Account, fills_booked: int) -> PaperAccountState:
        """Snapshot a venue account that reflects fills up to number `fills_booked`."""
        return cls(
            fills_booked=fills_booked,
            balances=dict(account.balances),
            holds={k: v for k, v in account.holds.items() if v != ZERO},
            positions={
                pid: PaperPosition(
                    contracts=p.contracts,
                    avg_entry_price=p.avg_entry_price,
                    realized_pnl=p.realized_pnl,
                    margin_held=p.margin_held,
                    total_fees=p.total_fees,
                )
                for pid, p in account.positions.items()
                if p.contracts != ZERO or p.realized_pnl != ZERO
            },
        )

    def restore(self, account: Account, quote_of: dict[str, str]) -> None:
        """Load balances and positions into a fresh account; futures margin goes back on hold."""
        for currency, amount in self.balances.items():
            account.set_balance(currency, amount)
        for pid, p in self.positions.items():
            account.positions[pid] = Position(
                product_id=pid,
                contracts=p.contracts,
                avg_entry_price=p.avg_entry_price,
                realized_pnl=p.realized_pnl,
                margin_held=p.margin_held,
                total_fees=p.total_fees,
            )
            quote = quote_of.get(pid, "USD")
            account.holds[quote] = account.hold(quote) + p.margin_held


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
