"""Everything risk knows, and the synchronous steps that change it. No I/O, time passed in.

The service decodes messages, calls these methods and publishes what they return. Each method runs
without an `await`, so a decision always sees one consistent state, and the state it keeps is
exactly what `check_intent`'s verdict says to keep.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

import msgspec

from services.risk.control import flatten_intents
from services.risk.outcomes import OutcomeMemory, PendingOrders
from shared.ledger import Ledger, LedgerSnapshot, PositionKey
from shared.messages import ProductInfo, ProductKey
from shared.messages.orders import Fill, Order, OrderEvent, OrderIntent, Purpose, RiskDecision
from shared.messages.risk import BreakerState, Position, RiskState
from shared.messages.strategy import StrategySpec
from shared.money import ZERO
from shared.risk import (
    Breaker,
    DailyPnl,
    Exposure,
    RateBuckets,
    Reason,
    RiskContext,
    RiskLimits,
    RiskVerdict,
    apply_daily_loss,
    check_intent,
    risk_state,
)
from shared.routing import market_of

_NS_PER_MS = 1_000_000


class Decided(NamedTuple):
    """A decision taken, and the INTENTS stream sequence of the intent (0 when replayed)."""

    decision: RiskDecision
    stream_seq: int


class RiskBook:
    """Limits, products, ledger, pending orders, breaker, rate buckets, kill switch, epoch, daily PnL
    and the strategy specs (who may send what where)."""

    def __init__(
        self, limits: RiskLimits, venues: Iterable[str], *, unanswered_grace_ns: int = 5_000_000_000
    ) -> None:
        self.limits = limits
        self.venues = frozenset(venues)
        """Execution venues served (each market's live and paper venue)."""
        self.unanswered_grace_ns = unanswered_grace_ns
        self.epoch = 0
        """Bumped by every halt, never lowered: every approval carries it, execution fences older ones."""
        self.specs: dict[str, StrategySpec] = {}
        self._routes: dict[str, str] = {}
        """strategy_id -> order venue of each enabled spec, kept with `specs` (read per decision)."""
        self._spec_revisions: dict[str, int] = {}
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
        self.entries: dict[PositionKey, Decimal] = {}
        """Signed size of each strategy's latest approved entry per position (a hedge's bound)."""

    # ---- limits, products and fills ----
    def set_limits(self, limits: RiskLimits) -> None:
        """Limits read from KV (or the configured ones again): every later decision judges by them."""
        self.limits = limits

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

    def mark_market(self, market: str, product_id: str, price: Decimal, ts_ns: int) -> None:
        """A market's price marks the product on every venue served from it (paper fills on it too);
        raises `LedgerError` for an unusable price."""
        for venue in sorted(self.venues):
            if market_of(venue) == market:
                self.ledger.mark(venue, product_id, price, ts_ns)

    # ---- strategy specs ----
    def set_spec(self, strategy_id: str, spec: StrategySpec | None, revision: int) -> bool:
        """A spec as read from KV (None: deleted or unreadable); an older revision than the one held
        is ignored, so a direct read and the watch can race. True when it was taken."""
        if revision < self._spec_revisions.get(strategy_id, 0):
            return False
        self._spec_revisions[strategy_id] = revision
        if spec is None:
            self.specs.pop(strategy_id, None)
        else:
            self.specs[strategy_id] = spec
        if spec is not None and spec.enabled:
            self._routes[strategy_id] = spec.order_venue
        else:
            self._routes.pop(strategy_id, None)
        return True

    def routes(self) -> Mapping[str, str]:
        """strategy_id -> the venue its orders must go to, for enabled specs only: a stopped or
        deleted instance may only reduce what it holds. Kept up to date by `set_spec`, not rebuilt
        for every decision."""
        return self._routes

    def routes_to(self, strategy_id: str, venue: str) -> bool:
        """True when the view already routes this strategy's orders to `venue`."""
        return self._routes.get(strategy_id) == venue

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
        """Kill switch, breaker, epoch and today's PnL as they were (call after the replays: the
        epoch is the highest of the stored one and those of the approvals replayed)."""
        if breaker is not None:
            self.breaker = breaker
        if state is None:
            return
        self.kill_switch, self.kill_reason = state.kill_switch, state.kill_reason
        self.epoch = max(self.epoch, state.epoch)
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
        """A decision replayed from the DECISIONS stream: the first one for an order id stands.

        An approval's order counts as pending again unless its events already said it ended, and
        risk's epoch is at least the order's. A refusal for a strategy mismatch answered the sender, not
        the id's owner: it is not remembered, so it cannot shadow the owner's own intent.
        """
        if Reason.STRATEGY_MISMATCH.value in decision.reasons:
            return
        first = self.decided.setdefault(decision.client_order_id, Decided(decision, 0))
        order = decision.order
        if first.decision is decision and decision.approved and order is not None:
            self.pending.restore(order)
            self._note_entry(order)
            self.epoch = max(self.epoch, order.epoch)

    def _note_entry(self, order: Order) -> None:
        if order.purpose is Purpose.ENTRY:
            key = PositionKey(order.strategy_id, order.venue, order.product_id)
            self.entries[key] = order.side.sign * order.size

    def context(self, now_ns: int, subject_strategy: str | None = None) -> RiskContext:
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
            pending_buys=self.pending.one_side(1),
            pending_sells=self.pending.one_side(-1),
            entries=self.entries,
            routes=self.routes(),
            subject_strategy=subject_strategy,
            kill_switch=self.kill_switch,
            daily_pnl=self.daily.pnl,
            breaker=self.breaker,
            buckets=self.buckets,
            seen_intents=self.decided,
        )

    def decide(
        self, intent: OrderIntent, now_ns: int, stream_seq: int, *, subject_strategy: str | None = None
    ) -> tuple[RiskDecision, Order | None]:
        """Check one intent and keep the state its verdict says to keep; the order to send, if any.

        `subject_strategy` is the strategy whose intent subject it arrived on (None: not checked).
        When it differs from the intent's, the refusal goes to the sender (its strategy_id is the
        subject's) and is not kept against the order id: it is the sender's, not the id owner's.
        """
        verdict = check_intent(intent, self.context(now_ns, subject_strategy))
        mismatch = subject_strategy is not None and subject_strategy != intent.strategy_id
        if mismatch:
            verdict = _refused_mismatch(verdict, intent, subject_strategy or "")
        decision = verdict.decision(intent, now_ns)
        if mismatch:
            return msgspec.structs.replace(decision, strategy_id=subject_strategy or ""), None
        self._flattening.pop(intent.client_order_id, None)  # decided: now pending, or not at all
        if Reason.DUPLICATE_INTENT.value in verdict.reasons:
            return decision, None  # the first decision for this id stands
        if not verdict.approved:
            self.decided[intent.client_order_id] = Decided(decision, stream_seq)
            return decision, None
        self.breaker, self.buckets = verdict.breaker, verdict.buckets
        order = Order.from_intent(intent, now_ns, expires_ns=verdict.expires_ns, epoch=self.epoch)
        decision = msgspec.structs.replace(decision, order=order)
        self.decided[intent.client_order_id] = Decided(decision, stream_seq)
        self.pending.approve(order)
        self._note_entry(order)
        return decision, order

    @staticmethod
    def approved_order(decision: RiskDecision, intent: OrderIntent) -> Order | None:
        """What an approval publishes: exactly the order it carries. An approval replayed from a risk
        that did not record its order yet carries none: its order is the intent's, as it was sent."""
        if not decision.approved:
            return None
        if decision.order is not None:
            return decision.order
        return Order.from_intent(intent, decision.decided_ns)

    def plan_flatten(self, reason: str, halt_ns: int, now_ns: int) -> list[OrderIntent]:
        """Flattening intents (dated `now_ns`, ids from `halt_ns`) for what is still open *after*
        orders already closing it.

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
        intents = flatten_intents(remaining, self.venues, reason, halt_ns, created_ns=now_ns)
        for i in intents:
            key = PositionKey(i.strategy_id, i.venue, i.product_id)
            self._flattening[i.client_order_id] = (key, i.side.sign * i.size)
        return intents

    def drop_flatten(self, client_order_id: str) -> None:
        """A planned flatten that could not be published no longer counts as closing anything."""
        self._flattening.pop(client_order_id, None)

    def release_unanswered(self, now_ns: int) -> list[str]:
        """Approvals execution never answered that can no longer fill (past their deadline, clock
        skew and a grace) stop counting as exposure; their ids."""
        margin = self.limits.clock_skew_ms * _NS_PER_MS + self.unanswered_grace_ns
        return self.pending.release_unanswered(now_ns, margin)

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

        Returns the kill reason when this call tripped the kill switch (a halt: a new epoch), else "".
        """
        self.breaker = self.breaker.at(now_ns, self.limits.breaker)
        self._observe_total(now_ns, self.total_pnl())
        before = self.state(now_ns)
        after = apply_daily_loss(before, self.daily, self.limits.daily_loss_limit, now_ns)
        if after.kill_switch and not before.kill_switch:
            self.kill_switch, self.kill_reason = True, after.kill_reason
            self.epoch += 1
            return after.kill_reason
        return ""

    def halt(self, reason: str) -> bool:
        """Switch trading off and start a new epoch (every halt does, so approvals made before it are
        fenced off); True when trading was on. A halt already in force keeps its first reason."""
        self.epoch += 1
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
        state = risk_state(
            kill_switch=self.kill_switch,
            kill_reason=self.kill_reason,
            breaker=self.breaker.at(now_ns, self.limits.breaker),
            daily=self.daily,
            gross_exposure=self.gross_exposure(),
            now_ns=now_ns,
        )
        return msgspec.structs.replace(state, epoch=self.epoch)

    def breaker_state(self, now_ns: int) -> BreakerState:
        """Breaker state as of now (a finished cooldown shows as half-open)."""
        return self.breaker.at(now_ns, self.limits.breaker).state


def _refused_mismatch(verdict: RiskVerdict, intent: OrderIntent, subject_strategy: str) -> RiskVerdict:
    """An intent whose body names another strategy than its subject is never approved, whatever
    else the checks found (a refused verdict's breaker and buckets are never kept)."""
    code = Reason.STRATEGY_MISMATCH.value
    if not verdict.approved and code in verdict.reasons:
        return verdict
    detail = f"{code}: sent on the subject of {subject_strategy!r} for {intent.strategy_id!r}"
    return dataclasses.replace(
        verdict,
        approved=False,
        reasons=(*verdict.reasons, code),
        detail="; ".join(d for d in (verdict.detail, detail) if d),
        probe=False,
        expires_ns=0,
    )
