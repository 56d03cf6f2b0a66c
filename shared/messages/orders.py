"""The order path: intent → risk decision → approved order → order events and fills."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from shared.messages.base import Message, Side

# A fixed namespace so the same (strategy, sequence, leg) always yields the same client order id.
_ORDER_ID_NAMESPACE = uuid.UUID("6f1e9f0a-3c1b-4f8e-9a55-2b1d8c0e7a11")


def client_order_id(strategy_id: str, intent_seq: int, leg: int) -> str:
    """Deterministic order identity: a retried or redelivered order keeps its id (and is deduplicated)."""
    return str(uuid.uuid5(_ORDER_ID_NAMESPACE, f"{strategy_id}:{intent_seq}:{leg}"))


class OrderType(enum.StrEnum):
    """The order configurations the strategies use."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(enum.StrEnum):
    """How long a limit order lives. Market orders are IOC by nature."""

    GTC = "GTC"
    GTD = "GTD"
    IOC = "IOC"
    FOK = "FOK"


class Purpose(enum.StrEnum):
    """Why an order exists; risk and reconciliation treat reducing orders differently."""

    ENTRY = "entry"
    EXIT = "exit"
    HEDGE = "hedge"
    UNWIND = "unwind"
    CORRECTIVE = "corrective"
    FLATTEN = "flatten"


class OrderIntent(Message, frozen=True, kw_only=True):
    """A strategy's wish to trade; nothing reaches a venue until risk approves it."""

    client_order_id: str
    strategy_id: str
    intent_seq: int
    leg: int
    venue: str
    product_id: str
    side: Side
    order_type: OrderType
    size: Decimal
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.IOC
    post_only: bool = False
    purpose: Purpose = Purpose.ENTRY
    reference_price: Decimal | None = None
    created_ns: int
    expires_ns: int = 0
    """Placement deadline (wall clock, ns): after it the order must not reach the venue. Risk also
    applies its own ceiling (`RiskLimits.max_intent_age_ms` after `created_ns`), so 0 (none given)
    or a far deadline never outlives that."""
    reason: str = ""


class Order(Message, frozen=True, kw_only=True):
    """An approved order on `orders.approved.<venue>`; its `client_order_id` is its Nats-Msg-Id."""

    client_order_id: str
    strategy_id: str
    intent_seq: int
    leg: int
    venue: str
    product_id: str
    side: Side
    order_type: OrderType
    size: Decimal
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.IOC
    post_only: bool = False
    purpose: Purpose = Purpose.ENTRY
    approved_ns: int
    expires_ns: int = 0
    """Placement deadline set by risk (the earlier of the intent's and risk's own ceiling):
    execution refuses the order after it (`EXPIRED`, reason `DEADLINE_PASSED`). 0 = none."""
    epoch: int = 0
    """Risk's trading epoch when it approved the order. A halt starts a new epoch; execution
    refuses an order from an older epoch than the newest it has seen (`CANCELLED`, `HALTED`)."""

    @classmethod
    def from_intent(
        cls, intent: OrderIntent, approved_ns: int, *, expires_ns: int = 0, epoch: int = 0
    ) -> Order:
        """The order risk approves is the intent, unchanged, stamped with the approval time, the
        placement deadline and the epoch it was approved in."""
        return cls(
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            intent_seq=intent.intent_seq,
            leg=intent.leg,
            venue=intent.venue,
            product_id=intent.product_id,
            side=intent.side,
            order_type=intent.order_type,
            size=intent.size,
            limit_price=intent.limit_price,
            time_in_force=intent.time_in_force,
            post_only=intent.post_only,
            purpose=intent.purpose,
            approved_ns=approved_ns,
            expires_ns=expires_ns,
            epoch=epoch,
        )


class RiskDecision(Message, frozen=True, kw_only=True):
    """Risk's answer to one intent; `reasons` are stable codes, `detail` is for humans.

    An approval carries the order it sent, so a restarted risk rebuilds the exposure of approvals
    that execution has not answered yet from its own decisions, not from what others report."""

    client_order_id: str
    strategy_id: str
    approved: bool
    reasons: tuple[str, ...] = ()
    detail: str = ""
    decided_ns: int
    order: Order | None = None
    """The approved order exactly as published on `orders.approved.<venue>` (None when refused)."""


class CancelRequest(Message, frozen=True, kw_only=True):
    """Cancel one order, or every open order of a strategy (or of everyone) when ids are empty."""

    venue: str
    client_order_ids: tuple[str, ...] = ()
    strategy_id: str = ""
    reason: str = ""
    requested_ns: int
    epoch: int = 0
    """A halt's cancel-all carries the epoch the halt started: from then on execution refuses
    approvals of older epochs, even before it sees the new `RiskState`."""


class OrderStatus(enum.StrEnum):
    """Lifecycle of an order as execution reports it."""

    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """No further fills can arrive for an order in a terminal state."""
        return self in _TERMINAL


_TERMINAL = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED}


class OrderEvent(Message, frozen=True, kw_only=True):
    """A change in an order's state. `reason` carries the venue's failure reason on a reject."""

    client_order_id: str
    venue_order_id: str = ""
    strategy_id: str
    venue: str
    product_id: str
    side: Side
    status: OrderStatus
    size: Decimal
    filled_size: Decimal = Decimal(0)
    average_price: Decimal | None = None
    reason: str = ""
    event_ns: int

    @property
    def dedupe_key(self) -> str:
        """Its `Nats-Msg-Id`: one per order state and filled size, so whoever reports the same state
        again (execution after a restart, reconciliation) stores it once."""
        return f"{self.client_order_id}:{self.status.value}:{self.filled_size}"


class Liquidity(enum.StrEnum):
    """Whether a fill added liquidity (maker) or took it (taker); it decides the fee."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class Fill(Message, frozen=True, kw_only=True):
    """One execution. `trade_id` is the venue's and is the de-duplication key everywhere."""

    trade_id: str
    client_order_id: str
    venue_order_id: str = ""
    strategy_id: str
    venue: str
    product_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: Liquidity
    fill_ns: int

    @property
    def dedupe_key(self) -> str:
        """The venue and its trade id: the `Nats-Msg-Id` of the fill and the ledger's booking key,
        so a fill reported twice (execution, reconciliation) is stored and booked once."""
        return f"{self.venue}:{self.trade_id}"
