"""`subjects.strategy_control(sid)`: commands to one instance, answered by its owner.

`resolve` is how reconciliation ends Reconciling (the venue's quantities become the position);
`halt` stops trading until resolved; `stop` disables the spec in KV so the instance stays stopped
on every worker; `restart` gives a Halted-after-crashes instance a fresh restart budget.
"""

from __future__ import annotations

import time
from typing import Protocol

from services.strategy import specs
from services.strategy.instance import Instance
from services.strategy.worker_context import WorkerContext
from shared.messages import CommandAction, StrategyCommand, StrategyCommandReply


class Owner(Protocol):
    """What a command needs from the slot that owns the instance (`supervisor.Slot`)."""

    ctx: WorkerContext
    sid: str
    worker_id: str
    state: str
    detail: str

    def restart(self) -> None: ...


async def handle_command(
    slot: Owner, instance: Instance | None, command: StrategyCommand
) -> StrategyCommandReply:
    """Apply `command`; with an instance this runs inside its task, between events."""

    def reply(ok: bool, detail: str = "") -> StrategyCommandReply:
        state = instance.engine.state if instance is not None else slot.state
        return StrategyCommandReply(
            ok=ok, strategy_id=slot.sid, worker_id=slot.worker_id, state=state, detail=detail
        )

    action = command.action
    now = time.time_ns()
    if action is CommandAction.STATUS:
        return reply(True, slot.detail)
    if action is CommandAction.STOP:
        found = await specs.set_enabled(slot.ctx.bus, slot.sid, False)
        return reply(found, "spec disabled" if found else "no valid spec to disable")
    if action is CommandAction.RESTART:
        slot.restart()
        if instance is not None:
            instance.stop()
        return reply(True, "restarting from the last snapshot")
    if instance is None:
        return reply(False, f"instance is not running ({slot.state}: {slot.detail})")
    if action is CommandAction.HALT:
        outcome = await instance.apply(instance.engine.halt(now, command.reason or "halted_by_command"))
        return reply(True, outcome.reason)
    outcome = await instance.apply(
        instance.engine.resolve(now, command.positions, command.prices, command.reason)
    )
    return reply(
        outcome.reason not in ("not_reconciling",) and not outcome.reason.startswith("resolve_needs"),
        outcome.reason,
    )
