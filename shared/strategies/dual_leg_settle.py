"""Fill-driven settlement for the dual-leg machine: what to do once every order has settled.

Kept apart from the machine's event handling so the rules that protect the book — hedge the
lagging leg once, then unwind the excess, never leave a leg unhedged, retry an incomplete exit,
and give up to Reconciling rather than loop — read as one page.
"""

from __future__ import annotations

from typing import NamedTuple

from shared.messages.base import Side
from shared.messages.orders import Purpose
from shared.money import ZERO
from shared.strategies.dual_leg_state import Accounting, MachineState, State, new_order
from shared.strategies.types import Direction, OrderRequest

MAX_HEDGE_ATTEMPTS = 1
MAX_UNWIND_ATTEMPTS = 2
MAX_EXIT_ATTEMPTS = 3
_MS = 1_000_000


class Verdict(NamedTuple):
    """Orders to send and, when `state` is set, the state to move to."""

    orders: tuple[OrderRequest, ...] = ()
    state: State | None = None
    reason: str = ""


def close_orders(st: MachineState, purpose: Purpose, reason: str) -> tuple[OrderRequest, ...]:
    """Orders that take each leg to zero. The side follows the sign of the *actual* position, so a
    short spread is closed by buying leg 1 (the original always sold leg 1 on exit)."""
    out = []
    for i, leg in enumerate(st.legs):
        if leg.pos != ZERO:
            side = Side.SELL if leg.pos > ZERO else Side.BUY
            out.append(new_order(st, i + 1, side, abs(leg.pos), purpose, st.last_prices[i], reason))
    return tuple(out)


def settle(st: MachineState, acct: Accounting, now_ns: int, exit_retry_ms: int) -> Verdict:
    """Called after every fill and order-done event. Tracks how long the book has been unhedged,
    waits while any order is still working, then settles the phase we are in."""
    balanced = acct.balanced(st)
    if balanced:
        st.unhedged_since_ns = None
    elif st.unhedged_since_ns is None:
        st.unhedged_since_ns = now_ns
    if any(not rec.settled for rec in st.orders):
        return Verdict(reason="working")
    if st.state is State.ENTERING:
        return _settle_entry(st, acct, now_ns, balanced)
    if st.state is State.EXITING:
        return _settle_exit(st, acct, now_ns, exit_retry_ms)
    if st.state in (State.FLAT, State.IN_POSITION) and not balanced:
        return Verdict(state=State.RECONCILING, reason="unexpected_fill")
    if st.state is State.FLAT and st.legs[0].pos == ZERO and st.legs[1].pos == ZERO:
        acct.realize(st)  # late fills that net to zero still count in realized PnL
    return Verdict()


def _settle_entry(st: MachineState, acct: Accounting, now_ns: int, balanced: bool) -> Verdict:
    p1, p2 = st.legs[0].pos, st.legs[1].pos
    if p1 == ZERO and p2 == ZERO:
        acct.realize(st)
        return Verdict(state=State.FLAT, reason="entry_not_filled")
    if balanced:
        st.in_position_ns = now_ns
        full = p1 == st.target1 and p2 == st.target2
        return Verdict(state=State.IN_POSITION, reason="entry_filled" if full else "entry_partially_filled")
    d = Direction(st.direction)
    a1, a2 = abs(p1), abs(p2)
    need2, need1 = acct.matched2(st, a1), acct.matched1(st, a2)
    leg1_leads = a1 * st.hedge_ratio > a2
    if st.hedge_attempts < MAX_HEDGE_ATTEMPTS:
        # First answer to a short leg: complete it to match the other (keeps the intended size).
        st.hedge_attempts += 1
        leg, size = (2, need2 - a2) if leg1_leads else (1, need1 - a1)
        if size > ZERO:
            order = new_order(st, leg, d.side(leg), size, Purpose.HEDGE, st.last_prices[leg - 1], "hedge")
            return Verdict(orders=(order,), reason="hedging_partial_fill")
    # The short leg could not be completed: cut the long leg back to what is hedged.
    if st.unwind_attempts >= MAX_UNWIND_ATTEMPTS:
        return Verdict(state=State.RECONCILING, reason="balance_failed")
    st.unwind_attempts += 1
    leg, size = (1, a1 - need1) if leg1_leads else (2, a2 - need2)
    if size <= ZERO:
        return Verdict(state=State.RECONCILING, reason="balance_failed")
    price = st.last_prices[leg - 1]
    order = new_order(st, leg, d.side(leg).opposite, size, Purpose.UNWIND, price, "unwind")
    return Verdict(orders=(order,), reason="unwinding_excess")


def _settle_exit(st: MachineState, acct: Accounting, now_ns: int, retry_ms: int) -> Verdict:
    """Flat when both legs are closed; otherwise schedule the next try (`retry_exit` sends it from
    the timer), doubling the wait each time, and give up to Reconciling after the last one."""
    if st.legs[0].pos == ZERO and st.legs[1].pos == ZERO:
        st.exit_retry_ns = None
        pnl = acct.realize(st)
        return Verdict(state=State.FLAT, reason=f"exit_filled:pnl={pnl}")
    if st.exit_attempts >= MAX_EXIT_ATTEMPTS:
        st.exit_retry_ns = None
        return Verdict(state=State.RECONCILING, reason="exit_incomplete")
    if st.exit_retry_ns is None:
        st.exit_retry_ns = now_ns + retry_ms * _MS * 2**st.exit_attempts
    return Verdict(reason="exit_retry_scheduled")


def retry_exit(st: MachineState, now_ns: int) -> tuple[OrderRequest, ...]:
    """The scheduled exit retry, once it is due and nothing is still working (else nothing)."""
    due = st.exit_retry_ns is not None and now_ns >= st.exit_retry_ns
    if st.state is not State.EXITING or not due or any(not rec.settled for rec in st.orders):
        return ()
    st.exit_retry_ns = None
    st.exit_attempts += 1
    return close_orders(st, Purpose.FLATTEN, "exit_retry")
