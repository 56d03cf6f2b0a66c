"""The paper account between the venue core and its KV record (`shared.messages.paper`).

Order records are what makes paper placement exactly-once: a redelivered order whose record exists
is re-reported from it, never matched again. Records carry their fills so re-reporting is complete.

Records are the truth; the account is a checkpoint. Every fill gets the next number of the account
(`fill_nos`), the account says through which number it is booked (`fills_booked`), and it is only
written after the records it reflects. A process killed between the two writes leaves an account
behind its records, never ahead: the next one books the missing fills again (`book_fill`).
"""

from __future__ import annotations

from shared.messages.paper import PaperAccountState, PaperPosition
from shared.money import ZERO
from shared.venue import Account, Position


def account_state(account: Account, fills_booked: int) -> PaperAccountState:
    """Snapshot a venue account that reflects fills up to number `fills_booked`."""
    return PaperAccountState(
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


def restore_account(state: PaperAccountState, account: Account, quote_of: dict[str, str]) -> None:
    """Load balances and positions into a fresh account; futures margin goes back on hold."""
    for currency, amount in state.balances.items():
        account.set_balance(currency, amount)
    for pid, p in state.positions.items():
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
