"""The kill switch's operator interface and side effects (a trading state machine whose every
change is published; cancels always go out, even when halted).

`halt` (with a reason) switches trading off and starts a new epoch, stores and publishes the new
`RiskState`, cancels every open order on every venue (each cancel carries the new epoch, so
execution refuses approvals from before the halt even if it has not seen the state yet) and, when
asked or when `flatten_on_halt` is set, flattens positions through the normal order path. `resume`
switches it back on unless today's loss is still at the limit. `status` answers with the state as
JSON. The automatic trip on the daily loss limit shares `halted`. A command this version cannot
read (an action it does not know) is refused in words by `refuse`, never left to time out.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog

from services.risk.book import RiskBook
from services.risk.control import cancels, status_detail
from shared import subjects
from shared.bus import Bus
from shared.messages import ControlAction, ControlCommand, ControlReply

_log = structlog.get_logger("risk")
Report = Callable[[int], Awaitable[None]]
"""Publishes and stores the risk state at once (the state goes out before anything else)."""
_USE = f"use {', '.join(ControlAction)}"


class KillSwitch:
    """Serves `ControlCommand`s on `subjects.RISK_CONTROL` and carries out halts."""

    def __init__(self, bus: Bus, book: RiskBook, venues: tuple[str, ...], report: Report) -> None:
        self._bus = bus
        self._book = book
        self._venues = venues
        self._report = report

    async def handle(self, command: ControlCommand) -> ControlReply:
        """One operator command; the reply says what happened, or why not."""
        now = time.time_ns()
        book = self._book
        if command.action == ControlAction.HALT:
            reason = command.reason or "manual halt"
            if command.operator:
                reason = f"{reason} (by {command.operator})"
            newly = book.halt(reason)
            flatten = command.flatten or book.limits.flatten_on_halt
            await self.halted(book.kill_reason, now, flatten=flatten, seq=command.requested_ns or now)
            return ControlReply(
                ok=True, detail="trading halted" if newly else "already halted; cancels re-sent"
            )
        if command.action == ControlAction.RESUME:
            ok, detail = book.resume()
            if ok:
                _log.warning("kill_switch_off", operator=command.operator, reason=command.reason)
                await self._report(now)
            return ControlReply(ok=ok, detail=detail)
        if command.action == ControlAction.STATUS:
            extra = {"pending_orders": len(book.pending), "products": len(book.products)}
            return ControlReply(ok=True, detail=status_detail(book.state(now), extra))
        return ControlReply(ok=False, detail=f"unknown action {command.action!r}; {_USE}")

    @staticmethod
    def refuse(error: str) -> ControlReply:
        """The reply to a command that does not decode, e.g. an action this version does not know."""
        return ControlReply(ok=False, detail=f"invalid command ({error}); {_USE}")

    async def halted(self, reason: str, now: int, *, flatten: bool, seq: int) -> None:
        """Side effects of a halt (its epoch already bumped): the state with the new epoch stored and
        published first, then cancel everything under that epoch, then flatten if asked.

        `seq` identifies the halt (the command's `requested_ns`); with the epoch it makes the cancels'
        message ids, so a repeated publish of one halt is stored once.
        """
        epoch = self._book.epoch
        _log.warning("kill_switch_on", reason=reason, flatten=flatten, epoch=epoch)
        try:
            await self._report(now)
        except Exception as exc:  # cancels carry the epoch too; the next tick stores the state again
            _log.error("halt_state_not_stored", error=str(exc), epoch=epoch)
        for request in cancels(self._venues, reason, now, epoch=epoch):
            msg_id = f"halt-{request.venue}-{seq}-{epoch}"
            await self._bus.publish_durable(subjects.cancel(request.venue), request, msg_id=msg_id)
        if flatten:
            for intent in self._book.plan_flatten(reason, seq, now):
                subject = subjects.intent(intent.strategy_id)
                try:
                    await self._bus.publish_durable(subject, intent, msg_id=intent.client_order_id)
                except Exception:
                    self._book.drop_flatten(intent.client_order_id)  # never sent: a later halt retries
                    raise
