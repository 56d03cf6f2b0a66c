"""The dual-leg state machine (Flat, Entering, InPosition, Exiting, Reconciling, Halted).

Driven by what actually happened — fills and order-done events — never by whether a send
succeeded. It returns `OrderRequest`s and never does I/O; time is passed in as int ns.

Defects of the original fixed here:
- positions and entry prices come from fills, not from signal-time tick prices;
- a leg that fills less than the other is hedged up at once (one attempt), else the excess is
  unwound, so a leg is never left unhedged; `max_unhedged_ms` bounds any imbalance;
- an execution timeout moves to Reconciling, and `resolve()` (called by reconciliation with the
  venue's actual positions) always leaves it: Flat, InPosition or Halted with a reason;
- exit sides follow the held direction (the original always sold leg 1, so a short spread was
  never closed correctly);
- the PnL gate is in bps of notional with fees and slippage included, not absolute currency;
- the stop loss is checked on every tick, not only when an exit signal happens to arrive, and it
  bypasses the exit cooldown (a cooldown must never keep a losing position open);
- entry and exit cooldowns; stale or skewed ticks are refused with a reason.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.messages.orders import Purpose
from shared.messages.strategy import DualLegParams, SignalAction
from shared.money import ZERO
from shared.strategies.dual_leg_settle import close_orders, retry_exit, settle
from shared.strategies.dual_leg_state import (
    Accounting,
    MachineState,
    OrderRecord,
    State,
    copy_state,
    new_order,
)
from shared.strategies.sizing import HedgeMatch, size_legs
from shared.strategies.types import CostModel, Decision, Direction, LegSpec, OrderRequest, Quote

_MS = 1_000_000
_SEEN_TRADES = 512


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one event: orders to send, the state after it, and why (a stable code)."""

    orders: tuple[OrderRequest, ...] = ()
    state: State
    reason: str = ""
    changed: bool = False


class DualLegMachine:
    """One dual-leg instance's execution state. The service and the backtester call:
    `on_tick` (with the signal core's decision), `on_fill`, `on_order_done`, `on_timer`,
    `resolve` (from reconciliation), and `snapshot` / `restore`."""

    def __init__(
        self,
        params: DualLegParams,
        legs: tuple[LegSpec, LegSpec],
        costs: CostModel,
        *,
        match: HedgeMatch = "notional",
        state: MachineState | None = None,
    ) -> None:
        self.params = params
        self.legs = legs
        self.match: HedgeMatch = match
        self.acct = Accounting(legs, costs)
        self.st = state if state is not None else MachineState()

    # --- read-only views -------------------------------------------------------------------
    @property
    def state(self) -> State:
        """The current state."""
        return self.st.state

    @property
    def direction(self) -> Direction | None:
        """The held (or being entered/exited) direction; None when flat."""
        return Direction(self.st.direction) if self.st.direction else None

    @property
    def positions(self) -> tuple[Decimal, Decimal]:
        """Signed positions of both legs in order units, from fills."""
        return self.st.legs[0].pos, self.st.legs[1].pos

    def set_costs(self, costs: CostModel) -> None:
        """Apply a new fee tier."""
        self.acct.costs = costs

    # --- events ---------------------------------------------------------------------------
    def tick_problem(self, now_ns: int, q1: Quote, q2: Quote) -> str:
        """Why these quotes must not be acted on ('' when they are fresh and in step)."""
        for name, q in (("leg1", q1), ("leg2", q2)):
            if not q.price.is_finite() or q.price <= ZERO:
                return f"bad_price_{name}"
        max_age = self.params.max_tick_age_ms * _MS
        if abs(now_ns - q1.ts_ns) > max_age:
            return "stale_tick_leg1"
        if abs(now_ns - q2.ts_ns) > max_age:
            return "stale_tick_leg2"
        if abs(q1.ts_ns - q2.ts_ns) > max_age:
            return "legs_skewed"
        return ""

    def on_tick(self, now_ns: int, q1: Quote, q2: Quote, decision: Decision) -> Step:
        """Act on a decision for fresh quotes: enter from Flat; from InPosition check the stop loss
        (every tick), then an exit signal through the cooldown and the PnL gate."""
        timed_out = self.on_timer(now_ns)
        if timed_out.changed or timed_out.orders:
            return timed_out
        problem = self.tick_problem(now_ns, q1, q2)
        if problem:
            return self._step(reason=problem)
        st = self.st
        st.last_prices = [q1.price, q2.price]
        if st.state is State.FLAT:
            return self._maybe_enter(now_ns, q1, q2, decision)
        if st.state is State.IN_POSITION:
            return self._maybe_exit(now_ns, q1, q2, decision)
        return self._step(reason=f"busy_{st.state.value}")

    def on_fill(
        self, seq: int, size: Decimal, price: Decimal, fee: Decimal, now_ns: int, trade_id: str = ""
    ) -> Step:
        """Fold in one actual fill of order `seq`, then rebalance if every order has settled."""
        st = self.st
        if trade_id:
            if trade_id in st.seen_trades:
                return self._step(reason="duplicate_fill")
            st.seen_trades.append(trade_id)
            del st.seen_trades[:-_SEEN_TRADES]
        rec = self._order(seq)
        if rec is None:
            return self._to(State.RECONCILING, now_ns, "fill_for_unknown_order")
        self.acct.apply_fill(st, rec, size, price, fee)
        return self._after_event(now_ns)

    def on_order_done(self, seq: int, now_ns: int, filled_size: Decimal | None = None) -> Step:
        """Order `seq` is terminal (filled, cancelled, expired, rejected). `filled_size` is the
        venue's total; if fills for it are still in flight the machine waits for them."""
        rec = self._order(seq)
        if rec is None:
            return self._step(reason="unknown_order")
        rec.done = True
        rec.final_filled = filled_size
        return self._after_event(now_ns)

    def on_timer(self, now_ns: int) -> Step:
        """Heartbeat: an execution that takes too long, or a leg unhedged for too long, moves to
        Reconciling (the original logged "manual intervention required" and stayed forever)."""
        st = self.st
        if st.state not in (State.ENTERING, State.EXITING):
            return self._step()
        if now_ns - st.phase_ns > self.params.execution_timeout_ms * _MS:
            return self._to(State.RECONCILING, now_ns, "execution_timeout")
        if (
            st.unhedged_since_ns is not None
            and now_ns - st.unhedged_since_ns > self.params.max_unhedged_ms * _MS
        ):
            return self._to(State.RECONCILING, now_ns, "unhedged_timeout")
        retry = retry_exit(st, now_ns)
        if retry:
            return self._step(orders=retry, reason="exit_retry")
        return self._step()

    def resolve(
        self, now_ns: int, pos1: Decimal, pos2: Decimal, prices: tuple[Decimal, Decimal], reason: str = ""
    ) -> Step:
        """Reconciliation's verdict: the venue's actual positions. Leaves Reconciling (or Halted)
        for Flat, InPosition (a proper hedge) or Halted (anything else), always with a reason.
        When the positions differ from the fills we saw, PnL is measured from `prices`."""
        st = self.st
        if st.state not in (State.RECONCILING, State.HALTED):
            return self._step(reason="not_reconciling")
        for rec in st.orders:
            rec.done, rec.final_filled = True, None
        for leg, spec, pos, px in zip(st.legs, self.legs, (pos1, pos2), prices, strict=True):
            if leg.pos != pos:
                leg.pos, leg.cash = pos, -spec.notional(pos, px)
        st.unhedged_since_ns = None
        if pos1 == ZERO and pos2 == ZERO:
            self.acct.realize(st)
            return self._flat(now_ns, f"resolved_flat{':' + reason if reason else ''}")
        if st.hedge_ratio == ZERO and pos1 != ZERO:
            st.hedge_ratio = abs(pos2) / abs(pos1)
        # The venue's numbers may differ from our ratio by rounding: one leg-2 increment is fine.
        if self.acct.balanced(st, slack=self.legs[1].base_increment):
            st.direction = 1 if pos1 > ZERO else -1
            st.hedge_ratio = abs(pos2) / abs(pos1)
            st.in_position_ns = now_ns
            return self._to(
                State.IN_POSITION, now_ns, f"resolved_in_position{':' + reason if reason else ''}"
            )
        return self._to(State.HALTED, now_ns, f"imbalanced_after_reconcile:pos1={pos1},pos2={pos2}")

    def halt(self, now_ns: int, reason: str) -> Step:
        """Stop acting (operator or risk). Only `resolve` leaves Halted."""
        return self._to(State.HALTED, now_ns, reason)

    # --- decisions ------------------------------------------------------------------------
    def _maybe_enter(self, now_ns: int, q1: Quote, q2: Quote, decision: Decision) -> Step:
        if decision.action not in (SignalAction.ENTER_LONG, SignalAction.ENTER_SHORT):
            return self._step(reason=decision.reason)
        st = self.st
        if st.last_flat_ns is not None and now_ns - st.last_flat_ns < self.params.entry_cooldown_ms * _MS:
            return self._step(reason="entry_cooldown")
        ratio = Decimal(repr(decision.hedge_ratio)) if self.match == "notional" else Decimal(1)
        if not ratio.is_finite() or ratio <= ZERO:
            return self._step(reason="bad_hedge_ratio")
        sizing = size_legs(
            self.params.notional, q1.price, q2.price, *self.legs, ratio=ratio, match=self.match
        )
        if sizing.leg1_size <= ZERO or sizing.leg2_size <= ZERO:
            return self._step(reason="size_rounds_to_zero")
        d = Direction.LONG if decision.action is SignalAction.ENTER_LONG else Direction.SHORT
        st.direction = int(d)
        st.target1, st.target2 = d * sizing.leg1_size, -d * sizing.leg2_size
        st.hedge_ratio = sizing.leg2_size / sizing.leg1_size
        st.hedge_attempts = st.unwind_attempts = st.exit_attempts = 0
        orders = (
            new_order(st, 1, d.side(1), sizing.leg1_size, Purpose.ENTRY, q1.price, decision.reason),
            new_order(st, 2, d.side(2), sizing.leg2_size, Purpose.ENTRY, q2.price, decision.reason),
        )
        return self._to(State.ENTERING, now_ns, decision.reason, orders)

    def _maybe_exit(self, now_ns: int, q1: Quote, q2: Quote, decision: Decision) -> Step:
        pnl = self.acct.pnl_bps(self.st, q1, q2)
        if pnl <= self.params.stop_loss_bps:
            return self._exit(now_ns, f"stop_loss:{pnl:.2f}bps")
        held = self.direction
        action = decision.action
        wants_exit = action is SignalAction.EXIT or (
            (action is SignalAction.ENTER_SHORT and held is Direction.LONG)
            or (action is SignalAction.ENTER_LONG and held is Direction.SHORT)
        )
        if not wants_exit:
            return self._step(reason=decision.reason)
        since = now_ns - (self.st.in_position_ns or 0)
        if since < self.params.exit_cooldown_ms * _MS:
            return self._step(reason="exit_cooldown")
        if pnl < self.params.min_profit_bps:
            return self._step(reason=f"pnl_gate:{pnl:.2f}bps")
        return self._exit(now_ns, f"{decision.reason}:{pnl:.2f}bps")

    def _exit(self, now_ns: int, reason: str) -> Step:
        st = self.st
        st.exit_attempts, st.exit_retry_ns = 0, None
        return self._to(State.EXITING, now_ns, reason, close_orders(st, Purpose.EXIT, reason))

    def _after_event(self, now_ns: int) -> Step:
        verdict = settle(self.st, self.acct, now_ns, self.params.exit_retry_ms)
        if verdict.state is None:
            return self._step(orders=verdict.orders, reason=verdict.reason)
        if verdict.state is State.FLAT:
            return self._flat(now_ns, verdict.reason)
        return self._to(verdict.state, now_ns, verdict.reason, verdict.orders)

    # --- transitions --------------------------------------------------------------------------
    def _flat(self, now_ns: int, reason: str) -> Step:
        st = self.st
        st.direction, st.in_position_ns, st.last_flat_ns = 0, None, now_ns
        st.target1 = st.target2 = ZERO
        return self._to(State.FLAT, now_ns, reason)

    def _to(self, state: State, now_ns: int, reason: str, orders: tuple[OrderRequest, ...] = ()) -> Step:
        st = self.st
        changed = st.state is not state
        st.state, st.reason = state, reason
        if changed:
            st.phase_ns = now_ns
        return Step(orders=orders, state=state, reason=reason, changed=changed)

    def _step(self, orders: tuple[OrderRequest, ...] = (), reason: str = "") -> Step:
        return Step(orders=orders, state=self.st.state, reason=reason)

    def _order(self, seq: int) -> OrderRecord | None:
        for rec in reversed(self.st.orders):
            if rec.seq == seq:
                return rec
        return None

    # --- snapshots ------------------------------------------------------------------------------
    def snapshot(self) -> MachineState:
        """A deep copy of the whole state, for the KV snapshot bucket."""
        return copy_state(self.st)

    @classmethod
    def restore(
        cls,
        params: DualLegParams,
        legs: tuple[LegSpec, LegSpec],
        costs: CostModel,
        snap: MachineState,
        *,
        match: HedgeMatch = "notional",
    ) -> DualLegMachine:
        """Rebuild from config and a snapshot (copied, so the snapshot stays untouched)."""
        return cls(params, legs, costs, match=match, state=copy_state(snap))
