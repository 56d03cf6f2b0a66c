"""CFM lifecycle events the venue applies on a schedule: BIP funding and cash settlement at expiry.

Pure functions over a `Venue`; the caller decides when (hourly funding, `contract_expiry`).
"""

from __future__ import annotations

from decimal import Decimal

from shared.money import ZERO
from shared.venue.engine import Venue
from shared.venue.types import CoinbaseOrderStatus


def apply_funding(venue: Venue, product_id: str, mark: Decimal, rate: Decimal) -> dict[str, Decimal]:
    """Charge one funding interval: `contracts · contract_size · mark · rate`; positive rates mean
    longs pay shorts. Returns the USD amount credited per account (negative = paid)."""
    product = venue.product(product_id)
    paid: dict[str, Decimal] = {}
    for account in venue.accounts.values():
        pos = account.positions.get(product_id)
        if pos is None or pos.contracts == ZERO:
            continue
        amount = -pos.contracts * product.contract_size * mark * rate
        account.credit(product.quote_currency, amount)
        pos.realized_pnl += amount
        paid[account.account_id] = amount
    return paid


def settle_expired(venue: Venue, product_id: str, price: Decimal, now_ns: int) -> dict[str, Decimal]:
    """Cash-settle every position at `price`, release its margin and expire open orders.
    Returns realized PnL per account."""
    product = venue.product(product_id)
    for order in list(venue.orders.values()):
        if order.product_id == product_id and order.status is CoinbaseOrderStatus.OPEN:
            venue.retire(order.order_id, CoinbaseOrderStatus.EXPIRED, now_ns, message="Contract expired")
    realized: dict[str, Decimal] = {}
    for account in venue.accounts.values():
        pos = account.positions.get(product_id)
        if pos is None or pos.contracts == ZERO:
            continue
        pnl = pos.apply(-pos.contracts, price, product.contract_size)
        account.credit(product.quote_currency, pnl)
        account.release(product.quote_currency, pos.margin_held)
        pos.margin_held = ZERO
        realized[account.account_id] = pnl
    return realized
