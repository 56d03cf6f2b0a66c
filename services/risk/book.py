"""Everything risk knows, and the synchronous steps that change it. No I/O, time passed in.

The service decodes messages, calls these methods and publishes what they return (STYLE #4). Each
method runs without an `await`, so a decision always sees one consistent state, and the state it
keeps is exactly what `check_intent`'s verdict says to keep.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

import msgspec

from services.risk.control import flatten_intents
from services.risk.outcomes import OutcomeMemory, PendingOrders
from shared.ledger import Ledger, LedgerSnapshot, PositionKey
from shared.messages.orders import Fill, Order, OrderEvent, OrderIntent, RiskDecision
from shared.messages.risk import BreakerState, Position, RiskState
from shared.risk import (
    Breaker,
    DailyPnl,
    Exposure,
    ProductInfo,
    ProductKey,
    RateBuckets,
    Reason,
    RiskContext,
    RiskLimits,
    apply_daily_loss,
    check_intent,
    risk_state,
)

ZERO = Decimal(0)


class Decided(NamedTuple):
    """A decision taken, and the INTENTS stream sequence of the intent (0 when replayed)."""

    decision: RiskDecision
    stream_seq: int


class RiskBook:
    """Limits, products, ledger, pending orders, breaker, rate buckets, kill switch and daily PnL."""

    def __init__(self, limits: RiskLimits, venues: Iterable[str]) -> None:
        self.limits = limits
        self.venues = frozenset(venues)
        self.products: dict[ProductKey, ProductInfo] = {}
        self.ledger = Ledger()
        self._fills: list[Fill] = []
        self.pending = PendingOrders()
        self.outcomes = OutcomeMemory()
        self.breaker = Breaker()
        self.buckets = RateBuckets()
        self.kill_switch = False
        self.kill_reason = ""
        self.daily = DailyPnl()
        self.decided: dict[str, Decided] = {}
        self._flattening: dict[str, tuple[PositionKey, Decimal]] = {}

    # ---- products and fills ----
    def set_products(self, infos: Iterable[ProductInfo]) -> bool:
        """Replace the product table (served venues only); True when it changed."""
        products = {p.key: p for p in infos if p.venue in self.venues}
        if products == self.products:
            return False
        self.products = products
        self._sync_contract_sizes()
        return True

    def add_product(self, info: ProductInfo) -> None:
        """One product looked up on demand (an intent for a product not yet in the table)."""
        if info.venue in self.venues:
            self.products[info.key] = info
            self._sync_contract_sizes()

    def _sync_contract_sizes(self) -> None:
        """Futures PnL needs contract sizes: rebuild the ledger from its fills if one changed."""
        sizes = {k: p.contract_size for k, p in self.products.items()}
        if all(self.ledger.contract_size(*k) == s for k, s in sizes.items()):
            return
        rebuilt = Ledger({k: s for k, s in sizes.items() if s != 1})
        rebuilt.apply_all(self._fills)
        for (venue, product_id), mark in self.ledger.marks().items():
            rebuilt.mark(venue, product_id, mark.price, mark.ts_ns)
        self.ledger = rebuilt

    def apply_fill(self, fill: Fill) -> bool:
        """Book a fill (idempotent by trade id); raises `LedgerError` for a malformed one."""
        if not self.ledger.apply(fill):
            return False
        self._fills.append(fill)
        return True

    def restore_marks(self, snapshot: LedgerSnapshot) -> None:
        """Marks saved at the last stop: with them a restart reproduces unrealized PnL exactly."""
        for entry in snapshot.marks:
            self.ledger.mark(entry.venue, entry.product_id, entry.mark.price, entry.mark.ts_ns)

    def restore_state(self, state: RiskState | None, breaker: Breaker | None) -> None:
        """Kill switch, breaker and today's PnL as they were (call after the fills are replayed)."""
        if breaker is not None:
            self.breaker = breaker
        if state is None:
            return
        self.kill_switch, self.kill_reason = state.kill_switch, state.kill_reason
        if state.trading_day:
            self.daily = DailyPnl.resume(state.trading_day, state.daily_pnl, self.total_pnl())

    # ---- decisions ----
    def redelivered(self, intent: OrderIntent, stream_seq: int) -> RiskDecision | None:
        """The decision already taken when this is a redelivery of an intent decided before.

        The stream sequence identifies a redelivery, not the delivery count: after a NATS restart a
        redelivered message can arrive counted as the first delivery, and dropping it as a
        duplicate would lose an approved order whose approval never reached the stream. A decision
        replayed from DECISIONS (sequence unknown) is repeated too: repeating it is idempotent, as
        the approval is deduplicated by its order id.
        """
        prior = self.decided.get(intent.client_order_id)
        if prior is None:
            return None
        return prior.decision if prior.stream_seq in (0, stream_seq) else None

    def remember(self, decision: RiskDecision) -> None:
        """A decision replayed from the DECISIONS stream: the first one for an order id stands."""
        self.decided.setdefault(decision.client_order_id, Decided(decision, 0))

    def context(self, now_ns: int) -> RiskContext:
        """The snapshot `check_intent` judges by (today's PnL brought up to date first)."""
        positions = self.ledger.positions()
        self._observe_total(now_ns, sum((p.realized_pnl + p.unrealized_pnl for p in positions), ZERO))
        return RiskContext(
            now_ns=now_ns,
            limits=self.limits,
            products=self.products,
            positions=positions,
            marks=self.ledger.marks(),
            pending=self.pending.by_position(),
            kill_switch=self.kill_switch,
            daily_pnl=self.daily.pnl,
            breaker=self.breaker,
            buckets=self.buckets,
            seen_intents=self.decided,
        )

    def decide(self, intent: OrderIntent, now_ns: int, stream_seq: int) -> tuple[RiskDecision, Order | None]:
        """Check one intent and keep the state its verdict says to keep; the order to send, if any."""
        verdict = check_intent(intent, self.context(now_ns))
        decision = verdict.decision(intent, now_ns)
        self._flattening.pop(intent.client_order_id, None)  # decided: now pending, or not at all
        if Reason.DUPLICATE_INTENT.value in verdict.reasons:
            return decision, None  # the first decision for this id stands
        self.decided[intent.client_order_id] = Decided(decision, stream_seq)
        if not verdict.approved:
            return decision, None
        self.breaker, self.buckets = verdict.breaker, verdict.buckets
        order = Order.from_intent(intent, now_ns)
        self.pending.approve(order)
        return decision, order

    def plan_flatten(self, reason: str, halt_ns: int) -> list[OrderIntent]:
        """Flattening intents for what is still open *after* orders already closing it.

        An order in flight that reduces a position (an earlier flatten, an exit) is subtracted, and
        so is a flatten planned but not yet decided, so two halts in a row never close a position
        twice and flip it. Entries in flight are ignored: the halt's cancel-all takes them back.
        """
        buying, selling = self.pending.one_side(1), self.pending.one_side(-1)
        for key, qty in self._flattening.values():
            side = buying if qty > 0 else selling
            side[key] = side.get(key, ZERO) + qty
        remaining: list[Position] = []
        for p in self.ledger.positions():
            key = PositionKey(p.strategy_id, p.venue, p.product_id)
            left = p.quantity + (selling if p.quantity > 0 else buying).get(key, ZERO)
            if left != 0 and (left > 0) == (p.quantity > 0):
                remaining.append(msgspec.structs.replace(p, quantity=left))
        intents = flatten_intents(remaining, self.venues, reason, halt_ns)
        for i in intents:
            key = PositionKey(i.strategy_id, i.venue, i.product_id)
            self._flattening[i.client_order_id] = (key, i.side.sign * i.size)
        return intents

    def drop_flatten(self, client_order_id: str) -> None:
        """A planned flatten that could not be published no longer counts as closing anything."""
        self._flattening.pop(client_order_id, None)

    # ---- order events ----
    def on_event(self, event: OrderEvent, *, live: bool, now_ns: int) -> bool | None:
        """Update pending exposure; feed the breaker the order's first outcome (live events only)."""
        self.pending.on_event(event)
        outcome = self.outcomes.first(event)
        if live and outcome is not None:
            self.breaker = self.breaker.record(
                now_ns, self.limits.breaker, ok=outcome, order_id=event.client_order_id
            )
            return outcome
        return None

    # ---- time, kill switch, state ----
    def total_pnl(self) -> Decimal:
        """Portfolio PnL now: realized + unrealized, fees included."""
        return sum((p.realized_pnl + p.unrealized_pnl for p in self.ledger.positions()), ZERO)

    def _observe_total(self, now_ns: int, total: Decimal) -> None:
        self.daily = self.daily.update(now_ns, total, self.limits.day_boundary_hour_utc)

    def advance(self, now_ns: int) -> str:
        """Apply time: breaker cooldown/probe timeout, today's PnL, and the daily loss kill switch.

        Returns the kill reason when this call tripped the kill switch, else "".
        """
        self.breaker = self.breaker.at(now_ns, self.limits.breaker)
        self._observe_total(now_ns, self.total_pnl())
        before = self.state(now_ns)
        after = apply_daily_loss(before, self.daily, self.limits.daily_loss_limit, now_ns)
        if after.kill_switch and not before.kill_switch:
            self.kill_switch, self.kill_reason = True, after.kill_reason
            return after.kill_reason
        return ""

    def halt(self, reason: str) -> bool:
        """Switch trading off; True when it was on. A halt already in force keeps its first reason."""
        if self.kill_switch:
            return False
        self.kill_switch, self.kill_reason = True, reason
        return True

    def resume(self) -> tuple[bool, str]:
        """Switch trading back on, unless today's loss is still at the limit (it would re-trip at once)."""
        if self.daily.breached(self.limits.daily_loss_limit):
            return False, (
                f"daily PnL {self.daily.pnl} is still at or below -{self.limits.daily_loss_limit}: "
                "raise the limit or wait for the next trading day"
            )
        was = self.kill_switch
        self.kill_switch, self.kill_reason = False, ""
        return True, "trading resumed" if was else "trading was not halted"

    def gross_exposure(self) -> Decimal:
        """Portfolio gross exposure of filled positions and pending orders."""
        marks = self.ledger.marks()
        exposure = Exposure(self.ledger.positions(), self.pending.by_position(), marks, self.products)
        return exposure.total_gross()

    def state(self, now_ns: int) -> RiskState:
        """The `RiskState` message as of now."""
        return risk_state(
            kill_switch=self.kill_switch,
            kill_reason=self.kill_reason,
            breaker=self.breaker.at(now_ns, self.limits.breaker),
            daily=self.daily,
            gross_exposure=self.gross_exposure(),
            now_ns=now_ns,
        )

    def breaker_state(self, now_ns: int) -> BreakerState:
        """Breaker state as of now (a finished cooldown shows as half-open)."""
        return self.breaker.at(now_ns, self.limits.breaker).state
