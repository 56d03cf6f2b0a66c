"""Balances, holds and futures positions of one venue account.

`available = balance − hold`. Open orders hold what they could spend; futures positions hold their
initial margin in the quote currency (USD) — the simulator does not model CBI→CFM sweeps separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from shared.errors import OrderRejectedError
from shared.money import ZERO


@dataclass(kw_only=True)
class Position:
    """A futures position in signed contracts (long > 0) with its volume-weighted entry price."""

    product_id: str
    contracts: Decimal = ZERO
    avg_entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    margin_held: Decimal = ZERO
    total_fees: Decimal = ZERO

    def apply(self, signed_contracts: Decimal, price: Decimal, contract_size: Decimal) -> Decimal:
        """Add a fill; return the realized PnL (quote) of the part that reduced the position."""
        realized = ZERO
        old = self.contracts
        if old != ZERO and (old > 0) != (signed_contracts > 0):
            closing = min(abs(old), abs(signed_contracts))
            direction = Decimal(1) if old > 0 else Decimal(-1)
            realized = (price - self.avg_entry_price) * closing * contract_size * direction
            self.realized_pnl += realized
        new = old + signed_contracts
        if new == ZERO:
            self.avg_entry_price = ZERO
        elif old == ZERO or (old > 0) != (new > 0):
            self.avg_entry_price = price
        elif abs(new) > abs(old):
            self.avg_entry_price = (self.avg_entry_price * abs(old) + price * abs(signed_contracts)) / abs(
                new
            )
        self.contracts = new
        return realized


@dataclass(kw_only=True)
class Account:
    """One owner's wallets (one per currency), holds and futures positions."""

    account_id: str
    balances: dict[str, Decimal] = field(default_factory=dict)
    holds: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    unlimited: bool = False

    def balance(self, currency: str) -> Decimal:
        """Total balance of a wallet (0 when absent)."""
        return self.balances.get(currency, ZERO)

    def hold(self, currency: str) -> Decimal:
        """Amount on hold for open orders and futures margin."""
        return self.holds.get(currency, ZERO)

    def available(self, currency: str) -> Decimal:
        """What a new order may still use."""
        return self.balance(currency) - self.hold(currency)

    def set_balance(self, currency: str, amount: Decimal) -> None:
        """Set a wallet's total balance (test/control helper)."""
        self.balances[currency] = amount
        self.holds.setdefault(currency, ZERO)

    def place_hold(self, currency: str, amount: Decimal, *, futures: bool = False) -> None:
        """Reserve `amount` or reject with INSUFFICIENT_FUND (funds are never overdrawn)."""
        if self.unlimited or amount <= ZERO:
            return
        if self.available(currency) < amount:
            preview = "PREVIEW_INSUFFICIENT_FUNDS_FOR_FUTURES" if futures else "PREVIEW_INSUFFICIENT_FUND"
            raise OrderRejectedError("INSUFFICIENT_FUND", "Insufficient balance in source account", preview)
        self.holds[currency] = self.hold(currency) + amount

    def release(self, currency: str, amount: Decimal) -> None:
        """Give back held funds (fill, cancel, expiry)."""
        if self.unlimited or amount <= ZERO:
            return
        self.holds[currency] = max(ZERO, self.hold(currency) - amount)

    def credit(self, currency: str, amount: Decimal) -> None:
        """Add (or, negative, remove) funds; the liquidity account is never tracked."""
        if self.unlimited:
            return
        self.balances[currency] = self.balance(currency) + amount

    def position(self, product_id: str) -> Position:
        """The futures position for `product_id`, created flat on first use."""
        if product_id not in self.positions:
            self.positions[product_id] = Position(product_id=product_id)
        return self.positions[product_id]
