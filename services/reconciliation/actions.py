"""Carrying out the core's actions on the bus, each described in words for the `ReconReport`.

Publishes use the contract's msg ids, so a repair that races execution (or a repeated cycle) is
stored once: fills `venue:trade_id`, events `coid:status:filled_size`, intents their client order id.
Strategy commands are the strategy service's own `StrategyCommand` on `subjects.strategy_control`.
A failed action is reported and retried by the next cycle (which finds the same difference).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import nats.errors
import structlog

from services.reconciliation import metrics
from services.reconciliation.config import ReconSettings
from services.reconciliation.model import (
    Action,
    HaltInstance,
    PublishEvent,
    PublishFill,
    ResolveInstance,
    ResolveOutcome,
    SendIntent,
)
from shared import subjects
from shared.bus import Bus
from shared.messages import CommandAction, StrategyCommand, StrategyCommandReply

_log = structlog.get_logger("reconciliation.actions")


class ActionRunner:
    """Runs actions in order; `done` describes each, `resolved` holds what strategies answered."""

    def __init__(self, bus: Bus, settings: ReconSettings, clock: Callable[[], int]) -> None:
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self.done: list[str] = []
        self.resolved: list[ResolveOutcome] = []
        self.failed: list[Action] = []

    async def run(self, actions: Sequence[Action]) -> None:
        """Every action is tried; one failing never stops the others."""
        for action in actions:
            label = type(action).__name__
            try:
                self.done.append(await self._one(action))
                metrics.ACTIONS.labels(label).inc()
            except Exception as exc:
                _log.warning("recon_action_failed", action=label, error=str(exc))
                self.failed.append(action)
                self.done.append(f"failed {label}: {type(exc).__name__}: {exc}")

    async def _one(self, action: Action) -> str:
        venue = self._settings.execution_venue
        if isinstance(action, PublishFill):
            fill = action.fill
            ack = await self._bus.publish_durable(
                subjects.fill(venue, fill.product_id), fill, msg_id=fill.dedupe_key
            )
            seen = " (already stored)" if ack.duplicate else ""
            return f"published fill {fill.trade_id} for {fill.strategy_id}{seen}"
        if isinstance(action, PublishEvent):
            event = action.event
            await self._bus.publish_durable(
                subjects.order_event(venue, event.strategy_id), event, msg_id=event.dedupe_key
            )
            return f"published {event.status.value} for {event.client_order_id} (filled {event.filled_size})"
        if isinstance(action, SendIntent):
            intent = action.intent
            await self._bus.publish_durable(
                subjects.intent(intent.strategy_id), intent, msg_id=intent.client_order_id
            )
            return (
                f"corrective intent {intent.client_order_id}: {intent.side.value} {intent.size} "
                f"{intent.product_id} for {intent.strategy_id}"
            )
        if isinstance(action, HaltInstance):
            reply = await self._command(action.strategy_id, CommandAction.HALT, reason=action.reason)
            return f"halt {action.strategy_id}: {'ok' if reply and reply.ok else 'no answer'}"
        return await self._resolve(action)

    async def _resolve(self, action: ResolveInstance) -> str:
        reply = await self._command(
            action.strategy_id, CommandAction.RESOLVE, positions=action.positions, reason=action.reason
        )
        outcome = ResolveOutcome(
            strategy_id=action.strategy_id,
            ok=bool(reply and reply.ok),
            state=reply.state if reply else "",
            detail=reply.detail if reply else "no answer",
            positions=action.positions,
            products=action.products,
        )
        self.resolved.append(outcome)
        shown = ", ".join(f"{p}={q}" for p, q in zip(action.products, action.positions, strict=True))
        return f"resolve {action.strategy_id} ({shown}) → {outcome.state or 'no answer'}: {outcome.detail}"

    async def _command(
        self, sid: str, action: CommandAction, **fields: object
    ) -> StrategyCommandReply | None:
        command = StrategyCommand(action=action, sent_ns=self._clock(), **fields)  # type: ignore[arg-type]
        try:
            return await self._bus.request(
                subjects.strategy_control(sid),
                command,
                StrategyCommandReply,
                timeout=self._settings.strategy_timeout_s,
            )
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            _log.warning("strategy_no_answer", strategy_id=sid, action=action.value, error=type(exc).__name__)
            return None
