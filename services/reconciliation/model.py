"""The values the pure core works on: the ledger's view, the venue's view, and what comes out.

Kept apart from `core.py` so venue readers, the ledger tracker and the service can build and read
them without importing decision logic. Plain frozen dataclasses: they never travel on the bus
(the bus gets `ReconReport`, `Fill`, `OrderEvent`, `OrderIntent` built from them).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from shared.messages import Fill, Liquidity, OrderEvent, OrderIntent, OrderStatus, Purpose, ReconFinding, Side
from shared.money import ZERO

PositionKey = tuple[str, str]
"""(strategy_id, product_id) within one venue."""


class Kind(enum.StrEnum):
    """What a finding is about; the `kind` label of `recon_findings_total`."""

    MISSING_FILL = "missing_fill"
    """A venue fill of one of our orders that the bus never carried."""
    UNKNOWN_ORDER_RESOLVED = "unknown_order_resolved"
    """An order execution left `unknown`, now settled with the venue's answer."""
    ORDER_EVENT_MISSING = "order_event_missing"
    """Our order's state at the venue differs from the last event on the bus (event lost)."""
    UNKNOWN_OPEN_ORDER = "unknown_open_order"
    """Open at the venue, but no intent or event of ours names it."""
    EXTERNAL_TRADE = "external_trade"
    """A venue fill of an order that did not come through the system."""
    POSITION_DIFFERENCE = "position_difference"
    """Ledger and venue quantities differ by more than dust after every repair."""
    INSTANCE_RECONCILING = "instance_reconciling"
    """A strategy instance waits in Reconciling (or Halted by reconciliation) for real quantities."""
    UNHEDGED = "unhedged"
    """An instance's legs stay imbalanced after resolving."""
    NAKED_LEG = "naked_leg"
    """A dual-leg instance its own machine no longer manages holds an unhedged leg: unwound."""


class Policy(enum.StrEnum):
    """How a difference that no repair removes is handled."""

    ALERT = "alert"
    """Report it (log, metric, `ReconReport`) and do nothing else."""
    HALT_STRATEGY = "halt_strategy"
    """Also halt the strategy instances holding the product (their `halt` command)."""
    CORRECTIVE = "corrective"
    """Also send a corrective `OrderIntent` (Purpose.CORRECTIVE) through risk."""


@dataclass(frozen=True, slots=True)
class LedgerOrder:
    """One of our orders as the bus knows it: its intent, and the latest event if any."""

    client_order_id: str
    strategy_id: str
    product_id: str
    side: Side
    size: Decimal
    purpose: Purpose = Purpose.ENTRY
    intent_seq: int = 0
    leg: int = 0
    status: OrderStatus | None = None
    """None: an intent with no order event yet."""
    filled_size: Decimal = ZERO
    venue_order_id: str = ""
    created_ns: int = 0
    updated_ns: int = 0
    booked: Decimal = ZERO
    """What the fills read so far add up to (they may trail the order's terminal event)."""

    @property
    def settled(self) -> bool:
        """Terminal, and every fill the venue reported for it is booked: it can move nothing more."""
        return self.status is not None and self.status.is_terminal and self.booked >= self.filled_size


@dataclass(frozen=True, slots=True)
class LedgerView:
    """The ledger side of one venue: positions from fills, orders from intents and events."""

    venue: str
    positions: Mapping[PositionKey, Decimal]
    trade_ids: frozenset[str]
    """Venue trade ids already on the bus for this venue."""
    orders: Mapping[str, LedgerOrder]
    """By client order id."""


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution as the venue lists it, attributed to its order's client order id."""

    trade_id: str
    order_id: str
    client_order_id: str
    product_id: str
    side: Side
    price: Decimal
    size: Decimal
    commission: Decimal
    liquidity: Liquidity
    time_ns: int


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One order as the venue reports it (status already mapped to ours)."""

    order_id: str
    client_order_id: str
    product_id: str
    side: Side
    status: OrderStatus
    filled_size: Decimal = ZERO
    average_price: Decimal | None = None
    reason: str = ""
    created_ns: int = 0
    fills: tuple[VenueFill, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductRef:
    """What the comparison needs about a product: futures or spot, its base, its size grid."""

    product_id: str
    is_future: bool
    base_currency: str
    base_increment: Decimal = Decimal("0.00000001")
    quote_currency: str = "USD"


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """The venue side: wallets (total = available + hold), futures positions (signed contracts),
    open orders, and fills since the cursor."""

    balances: Mapping[str, Decimal]
    futures: Mapping[str, Decimal]
    open_orders: tuple[VenueOrder, ...]
    fills: tuple[VenueFill, ...]
    products: Mapping[str, ProductRef]


@dataclass(frozen=True, slots=True)
class OrderRef:
    """An order the core wants looked up at the venue (by venue id when known, else by client id)."""

    client_order_id: str
    product_id: str
    venue_order_id: str = ""
    created_ns: int = 0


@dataclass(frozen=True, slots=True)
class InstanceView:
    """A strategy instance as its latest status and its spec describe it."""

    strategy_id: str
    state: str
    detail: str
    products: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResolveOutcome:
    """What a strategy answered to `resolve`."""

    strategy_id: str
    ok: bool
    state: str
    detail: str
    positions: tuple[Decimal, ...]
    products: tuple[str, ...]


# ---- actions: what the service must do, in this order ----
@dataclass(frozen=True, slots=True)
class PublishFill:
    """Put a fill the bus never carried on `subjects.fill` (msg id `venue:trade_id`)."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class PublishEvent:
    """Put the venue's true order state on `subjects.order_event`."""

    event: OrderEvent


@dataclass(frozen=True, slots=True)
class ResolveInstance:
    """Send `resolve` with the venue's quantities (one per product, in spec order)."""

    strategy_id: str
    products: tuple[str, ...]
    positions: tuple[Decimal, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class HaltInstance:
    """Send `halt` to one instance."""

    strategy_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class SendIntent:
    """Publish a corrective intent on `subjects.intent(sid)`; risk decides it like any other."""

    intent: OrderIntent


Action = PublishFill | PublishEvent | ResolveInstance | HaltInstance | SendIntent


@dataclass(frozen=True, slots=True)
class Memory:
    """What the core carries from one cycle to the next (owned by the service, never mutated here)."""

    reconciling_since: Mapping[str, int] = field(default_factory=dict)
    """First time each instance was seen waiting for a resolve."""
    unhedged_since: Mapping[str, int] = field(default_factory=dict)
    """First time each instance was seen imbalanced after a resolve."""
    baseline: Mapping[str, Decimal] | None = None
    """Spot quantity per currency held outside the ledger (captured once, or configured)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One pass of the core: what it compared, found and wants done, and the next memory."""

    compared: Mapping[str, int]
    findings: tuple[ReconFinding, ...]
    actions: tuple[Action, ...]
    memory: Memory
