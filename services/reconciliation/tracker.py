"""The ledger side, rebuilt from the streams: fills into a `shared.ledger.Ledger` (exactly as risk
builds its own), order events and intents into one record per client order id.

Intents are followed too because they are the only place an order's owner, purpose and sequence
are written before the venue sees it: a fill whose order event was lost is still attributed to its
strategy, and corrective sequences continue where the stream left them after a restart.
`caught_up` compares what was read with what JetStream stores, so a cycle never mistakes a fill
still in the follower's queue for a missing one.

Two more things are kept for the naked-leg check: when each strategy's position last moved (read
time, on the service clock: a leg is naked from then), and which intents risk refused (such an
order will never trade, so it is not waited for). Decisions are not counted by `caught_up`: a
refusal read late only delays the next corrective, it never makes a position wrong.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import structlog

from services.reconciliation.model import LedgerOrder, LedgerView
from shared import subjects
from shared.bus import Bus, Followed, Subscription
from shared.ledger import Ledger, LedgerError
from shared.messages import Fill, OrderEvent, OrderIntent, OrderStatus, RiskDecision
from shared.money import ZERO

_log = structlog.get_logger("reconciliation.tracker")


class LedgerTracker:
    """Follows FILLS and ORDER_EVENTS of one venue, and every intent, from the start of each stream."""

    def __init__(self, venue: str, clock: Callable[[], int] = time.time_ns) -> None:
        self.venue = venue
        self.ledger = Ledger()
        self.trade_ids: set[str] = set()
        self.orders: dict[str, LedgerOrder] = {}
        self.booked: dict[str, Decimal] = defaultdict(lambda: ZERO)
        """Fill sizes read per client order id."""
        self.moved_ns: dict[str, int] = {}
        """When each strategy's position on this venue last moved (read time, service clock)."""
        self.refused: set[str] = set()
        """Client order ids risk refused."""
        self.read = {"fills": 0, "events": 0, "intents": 0}
        """Messages handed to `on_*`, per kind (what was read; `caught_up` asks the followers)."""
        self._clock = clock
        self._subscriptions: list[Subscription] = []
        self._counted: dict[str, Followed] = {}
        """The followers `caught_up` checks, by subject."""

    # ---- feeding (pure bookkeeping: also used directly by tests) ----
    def on_fill(self, fill: Fill) -> None:
        """Book a fill once per trade id (a bad one is logged and skipped, never fatal)."""
        self.read["fills"] += 1
        if fill.venue != self.venue:
            return
        if fill.trade_id in self.trade_ids:
            return
        try:
            self.ledger.apply(fill)
        except LedgerError as exc:
            _log.warning("fill_not_booked", trade_id=fill.trade_id, error=str(exc))
        self.trade_ids.add(fill.trade_id)
        self.booked[fill.client_order_id] += fill.size
        self.moved_ns[fill.strategy_id] = self._clock()
        known = self.orders.get(fill.client_order_id)
        if known is not None:
            self.orders[fill.client_order_id] = dataclasses.replace(
                known, booked=self.booked[fill.client_order_id]
            )

    def on_decision(self, decision: RiskDecision) -> None:
        """A refused intent is over: it will never reach the venue."""
        if decision.approved:
            return
        self.refused.add(decision.client_order_id)
        known = self.orders.get(decision.client_order_id)
        if known is not None and known.status is None:
            self.orders[decision.client_order_id] = dataclasses.replace(known, status=OrderStatus.REJECTED)

    def on_intent(self, intent: OrderIntent) -> None:
        """Owner, purpose and sequence of an order; an event seen earlier keeps its state."""
        self.read["intents"] += 1
        if intent.venue != self.venue:
            return
        known = self.orders.get(intent.client_order_id)
        base = LedgerOrder(
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            product_id=intent.product_id,
            side=intent.side,
            size=intent.size,
            purpose=intent.purpose,
            intent_seq=intent.intent_seq,
            leg=intent.leg,
            created_ns=intent.created_ns,
            updated_ns=intent.created_ns,
            booked=self.booked.get(intent.client_order_id, ZERO),
            status=OrderStatus.REJECTED if intent.client_order_id in self.refused else None,
        )
        if known is not None:
            base = dataclasses.replace(
                base,
                status=known.status,
                filled_size=known.filled_size,
                venue_order_id=known.venue_order_id,
                updated_ns=max(known.updated_ns, intent.created_ns),
            )
        self.orders[intent.client_order_id] = base

    def on_event(self, event: OrderEvent) -> None:
        """The latest state; a terminal state is never undone by a late re-report."""
        self.read["events"] += 1
        if event.venue != self.venue:
            return
        known = self.orders.get(event.client_order_id)
        if known is None:
            known = LedgerOrder(
                client_order_id=event.client_order_id,
                strategy_id=event.strategy_id,
                product_id=event.product_id,
                side=event.side,
                size=event.size,
                created_ns=event.event_ns,
                booked=self.booked.get(event.client_order_id, ZERO),
            )
        if known.status is not None and known.status.is_terminal and not event.status.is_terminal:
            return
        self.orders[event.client_order_id] = dataclasses.replace(
            known,
            status=event.status,
            filled_size=max(known.filled_size, event.filled_size),
            venue_order_id=event.venue_order_id or known.venue_order_id,
            updated_ns=max(known.updated_ns, event.event_ns),
        )

    def view(self) -> LedgerView:
        """A copy the core can read while the followers keep going."""
        positions: dict[tuple[str, str], Decimal] = {}
        for key, qty in self.ledger.quantities().items():
            if key.venue == self.venue and qty != ZERO:
                positions[(key.strategy_id, key.product_id)] = qty
        return LedgerView(
            venue=self.venue,
            positions=positions,
            trade_ids=frozenset(self.trade_ids),
            orders=dict(self.orders),
        )

    # ---- following ----
    async def start(self, bus: Bus) -> None:
        """Replay each stream from its start, then follow it live."""

        async def fill(msg: Fill) -> None:
            self.on_fill(msg)

        async def event(msg: OrderEvent) -> None:
            self.on_event(msg)

        async def intent(msg: OrderIntent) -> None:
            self.on_intent(msg)

        async def decision(msg: RiskDecision) -> None:
            self.on_decision(msg)

        rest = subjects.REST
        intents, events, fills = (
            subjects.intent(rest),
            subjects.order_event(self.venue, rest),
            subjects.fill(self.venue, rest),
        )
        self._counted = {
            intents: await bus.follow(intents, OrderIntent, intent),
            events: await bus.follow(events, OrderEvent, event),
            fills: await bus.follow(fills, Fill, fill),
        }
        decided = await bus.follow(subjects.decision(rest), RiskDecision, decision)
        self._subscriptions = [*self._counted.values(), decided]

    async def stop(self) -> None:
        """Stop following."""
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions, self._counted = [], {}

    async def caught_up(self, bus: Bus) -> bool:
        """True once every message stored now was delivered, an undecodable one too (streams only
        grow while we compare)."""
        for subject, followed in self._counted.items():
            if followed.replay.seen < await bus.stored(subject):
                return False
        return True
