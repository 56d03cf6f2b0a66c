"""Risk service state: positions, PnL, circuit breaker and kill switch."""

from __future__ import annotations

import enum
from decimal import Decimal

from shared.messages.base import Message


class Position(Message, frozen=True, kw_only=True):
    """Net position of one strategy in one product, in venue units (contracts for futures)."""

    strategy_id: str
    venue: str
    product_id: str
    quantity: Decimal
    average_price: Decimal
    realized_pnl: Decimal
    fees: Decimal
    unrealized_pnl: Decimal = Decimal(0)
    mark: Decimal | None = None
    updated_ns: int


class BreakerState(enum.StrEnum):
    """Circuit breaker: closed lets orders through, open blocks them, half-open lets one probe."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class RiskState(Message, frozen=True, kw_only=True):
    """The trading state risk enforces; stored in KV and published on every change."""

    kill_switch: bool = False
    kill_reason: str = ""
    breaker: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    breaker_opened_ns: int = 0
    trading_day: str = ""
    daily_pnl: Decimal = Decimal(0)
    gross_exposure: Decimal = Decimal(0)
    epoch: int = 0
    """Bumped by every halt and never lowered: orders approved in an older epoch are fenced off."""
    updated_ns: int


class PnlSummary(Message, frozen=True, kw_only=True):
    """Aggregated PnL (fees included) per strategy, per product and for the portfolio."""

    by_strategy: dict[str, Decimal]
    by_product: dict[str, Decimal]
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    total: Decimal
    positions: tuple[Position, ...]
    summary_ns: int


class ControlAction(enum.StrEnum):
    """What risk's kill switch answers on `subjects.RISK_CONTROL`."""

    HALT = "halt"
    RESUME = "resume"
    STATUS = "status"


class ControlCommand(Message, frozen=True, kw_only=True):
    """An operator command (halt, resume, status) sent by the CLI over request/reply."""

    action: ControlAction
    reason: str = ""
    operator: str = ""
    flatten: bool = False
    requested_ns: int


class ControlReply(Message, frozen=True, kw_only=True):
    """The result of a control command."""

    ok: bool
    detail: str = ""
