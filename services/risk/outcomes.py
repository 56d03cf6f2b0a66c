"""What order events mean to risk: breaker outcomes and the exposure of orders still open.

Pure (no I/O, no clock) so the rules can be read and tested on their own.

**What counts as an execution failure** (it feeds the circuit breaker):

- status `unknown`: execution could not tell whether the venue has the order (timeout, dropped
  connection, 5xx). The pipeline to the venue is broken, whatever the order was.
- status `rejected` whose reason is *not* a business refusal: anything but the venue judging this
  one order invalid or unaffordable. Infrastructure-type rejects (venue unavailable, order entry
  disabled, rate limited by the venue, authentication, `UNKNOWN_FAILURE_REASON`, an empty or
  unrecognised reason) count, because an unknown cause must fail safe.

Business refusals (`INSUFFICIENT_FUND(S)`, `INVALID_*` such as size/price precision, post-only
crossing, no liquidity, unsupported configuration, ineligible pair, duplicate client order id; with
or without Coinbase's `PREVIEW_` prefix) are *successes* for the breaker:
the venue answered, so the path works; counting them would let one bad strategy trip trading for all.
`accepted`, `partially_filled`, `filled`, `cancelled` and `expired` are successes.

Only the first decisive event of an order is an outcome: a `filled` after an `accepted` is not a
second success, and a probe's result is its first event.

The reason is classified by its leading code (the Coinbase `new_order_failure_reason`, which
execution puts first, e.g. `"INSUFFICIENT_FUND: ..."`), never by searching the message text.
"""

from __future__ import annotations

import re
from decimal import Decimal

from shared.ledger import PositionKey
from shared.messages.orders import Order, OrderEvent, OrderStatus
from shared.money import ZERO

_CODE = re.compile(r"^\s*([A-Za-z0-9_]+)")
BUSINESS_REJECTS = frozenset(
    {
        "INSUFFICIENT_FUND",
        "INSUFFICIENT_FUNDS",
        "INELIGIBLE_PAIR",
        "UNSUPPORTED_ORDER_CONFIGURATION",
        "POST_ONLY_NOT_ALLOWED_WITH_FOK",
        "DUPLICATE_CLIENT_ORDER_ID",
    }
)
"""Reject codes that are a verdict on the order, not on the venue path (plus every `INVALID_*`;
a `PREVIEW_` prefix is ignored). `HTTP_<status>`, `WRONG_VENUE`, `ORDER_ENTRY_DISABLED` and
`UNKNOWN_FAILURE_REASON` are deliberately absent: they are failures."""
_SUCCESS = frozenset(
    {
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.EXPIRED,
    }
)


def reject_code(reason: str) -> str:
    """The leading code of a reject reason, upper-cased; empty when there is none."""
    match = _CODE.match(reason)
    return match.group(1).upper() if match else ""


def is_business_reject(reason: str) -> bool:
    """True when the venue refused this order on its merits (the venue path itself worked)."""
    code = reject_code(reason).removeprefix("PREVIEW_")
    return code in BUSINESS_REJECTS or code.startswith("INVALID_")


def breaker_outcome(event: OrderEvent) -> bool | None:
    """True = success, False = execution failure, None = not an outcome (should not happen today)."""
    if event.status is OrderStatus.UNKNOWN:
        return False
    if event.status is OrderStatus.REJECTED:
        return is_business_reject(event.reason)
    if event.status in _SUCCESS:
        return True
    return None


class RecentIds:
    """The most recent ids added, up to `capacity` (the oldest are forgotten first)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: dict[str, None] = {}
        self._capacity = capacity

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._ids

    def add(self, client_order_id: str) -> bool:
        """Remember an id; False when it was already remembered."""
        if client_order_id in self._ids:
            return False
        self._ids[client_order_id] = None
        if len(self._ids) > self._capacity:
            del self._ids[next(iter(self._ids))]
        return True


class OutcomeMemory:
    """Which orders already produced their breaker outcome (bounded: the oldest are forgotten)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen = RecentIds(capacity)

    def first(self, event: OrderEvent) -> bool | None:
        """The outcome if this is the order's first decisive event, else None."""
        outcome = breaker_outcome(event)
        if outcome is None or not self._seen.add(event.client_order_id):
            return None
        return outcome


class PendingOrders:
    """Signed unfilled quantity of every approved order that is not yet terminal.

    Counted by `check_intent` as if filled, so a burst of intents cannot slip past a cap before the
    first fill. Keyed by client_order_id, so approving or replaying the same order twice counts once.
    Rebuilt after a restart from risk's own approvals (the DECISIONS stream) and the order events:
    the two streams replay in no fixed order between them, so terminal ids seen before their
    approval are remembered (bounded) and an approval already answered is not counted again.

    An approval execution never answered is released once it can no longer fill: execution refuses
    an order past its deadline, so after `expires_ns` plus a margin for clocks it cannot reach the
    venue. Any event for it keeps it pending until a terminal one.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._open: dict[str, tuple[PositionKey, Decimal]] = {}
        self._unanswered: dict[str, int] = {}
        """Approvals with no event yet -> their deadline (orders without one are never released)."""
        self._terminal = RecentIds(capacity)

    def __len__(self) -> int:
        return len(self._open)

    def approve(self, order: Order) -> None:
        """An order went out: all of it is pending."""
        key = PositionKey(order.strategy_id, order.venue, order.product_id)
        self._open[order.client_order_id] = (key, order.side.sign * order.size)
        if order.expires_ns > 0:
            self._unanswered[order.client_order_id] = order.expires_ns

    def restore(self, order: Order) -> bool:
        """An approval replayed after a restart; False when its events already told its fate."""
        coid = order.client_order_id
        if coid in self._terminal or coid in self._open:
            return False
        self.approve(order)
        return True

    def on_event(self, event: OrderEvent) -> None:
        """Terminal orders leave; others keep what is left unfilled (an order first seen here is added).
        A resting order lives longer than the streams' de-duplication window, so a late re-report of
        its acceptance can follow its end: an order already terminal never counts again."""
        coid = event.client_order_id
        self._unanswered.pop(coid, None)
        if coid in self._terminal:
            return
        if event.status.is_terminal:
            self._terminal.add(coid)
            self._open.pop(coid, None)
            return
        left = max(event.size - event.filled_size, ZERO)
        key = PositionKey(event.strategy_id, event.venue, event.product_id)
        self._open[coid] = (key, event.side.sign * left)

    def release_unanswered(self, now_ns: int, margin_ns: int) -> list[str]:
        """Drop approvals never answered whose deadline passed more than `margin_ns` ago."""
        gone = [c for c, deadline in self._unanswered.items() if now_ns > deadline + margin_ns]
        for coid in gone:
            del self._unanswered[coid]
            self._open.pop(coid, None)
        return gone

    def one_side(self, sign: int) -> dict[PositionKey, Decimal]:
        """Pending quantity of buys (`sign` 1) or sells (-1) only, per position."""
        totals: dict[PositionKey, Decimal] = {}
        for key, qty in self._open.values():
            if qty * sign > 0:
                totals[key] = totals.get(key, ZERO) + qty
        return totals

    def by_position(self) -> dict[PositionKey, Decimal]:
        """Pending quantity summed per (strategy, venue, product), as `RiskContext.pending` wants it."""
        totals: dict[PositionKey, Decimal] = {}
        for key, qty in self._open.values():
            totals[key] = totals.get(key, ZERO) + qty
        return totals
