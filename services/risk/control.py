"""The kill switch's side effects, as pure builders: cancels for every venue and flattening intents.

Flattening goes through the normal order path: risk publishes ordinary `OrderIntent`s (purpose
`FLATTEN`) on each owner's intent subject and decides them like any other. They are risk-reducing,
so the kill switch and the daily loss limit let them pass; the breaker, staleness, grid and rate
checks still apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from shared import subjects
from shared.errors import InvalidSubjectTokenError
from shared.messages.base import Side
from shared.messages.orders import (
    CancelRequest,
    OrderIntent,
    OrderType,
    Purpose,
    TimeInForce,
    client_order_id,
)
from shared.messages.risk import Position, RiskState


def cancels(venues: Iterable[str], reason: str, now_ns: int, *, epoch: int = 0) -> list[CancelRequest]:
    """Cancel every open order on every venue (empty ids = all orders of everyone), fencing off
    approvals from before `epoch`."""
    return [CancelRequest(venue=v, reason=reason, requested_ns=now_ns, epoch=epoch) for v in sorted(venues)]


def flatten_id(strategy_id: str, halt_ns: int, leg: int) -> str:
    """Deterministic per halt and position: a retried halt re-sends the same ids (deduplicated)."""
    return client_order_id(f"risk-flatten-{strategy_id}", halt_ns, leg)


def flatten_intents(
    positions: Iterable[Position],
    venues: Iterable[str],
    reason: str,
    halt_ns: int,
    *,
    created_ns: int | None = None,
) -> list[OrderIntent]:
    """One market IOC intent per open position on a served venue, closing it completely.

    Ids come from `halt_ns` (the halt's identity); the intents are dated `created_ns` (default
    `halt_ns`), the time they are planned: their placement deadline counts from it."""
    served = set(venues)
    legs: dict[str, int] = {}
    intents: list[OrderIntent] = []
    for p in positions:
        if p.quantity == 0 or p.venue not in served:
            continue
        try:
            subjects.token(p.strategy_id)
        except InvalidSubjectTokenError:
            continue  # no intent subject can carry it; the cancel-all still covers its orders
        leg = legs.get(p.strategy_id, 0)
        legs[p.strategy_id] = leg + 1
        intents.append(
            OrderIntent(
                client_order_id=flatten_id(p.strategy_id, halt_ns, leg),
                strategy_id=p.strategy_id,
                intent_seq=halt_ns,
                leg=leg,
                venue=p.venue,
                product_id=p.product_id,
                side=Side.SELL if p.quantity > 0 else Side.BUY,
                order_type=OrderType.MARKET,
                size=abs(p.quantity),
                time_in_force=TimeInForce.IOC,
                purpose=Purpose.FLATTEN,
                reference_price=p.mark,
                created_ns=halt_ns if created_ns is None else created_ns,
                reason=f"flatten on halt: {reason}",
            )
        )
    return intents


def status_detail(state: RiskState, extra: Mapping[str, object]) -> str:
    """The `status` reply: the risk state and a few counters, as JSON for the CLI to print."""
    body: dict[str, object] = {
        "kill_switch": state.kill_switch,
        "kill_reason": state.kill_reason,
        "breaker": state.breaker.value,
        "consecutive_failures": state.consecutive_failures,
        "trading_day": state.trading_day,
        "daily_pnl": str(state.daily_pnl),
        "gross_exposure": str(state.gross_exposure),
        "epoch": state.epoch,
        **extra,
    }
    return json.dumps(body, sort_keys=True)
