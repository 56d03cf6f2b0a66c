"""The console service: folds the bus into `ConsoleState`, serves the page, pushes live updates.

It listens like the CLI's dashboard (feed status, instance statuses from their last-value stream,
risk state and PnL, order events and fills) and re-reads the KV-backed parts (service heartbeats,
specs, leases) every `kv_refresh_s`. Updates are folded and pushed at most every `push_interval_s`.
Its only writes are the operator's: risk's kill switch (request/reply, as `algopioneer halt`) and a
spec's `enabled` flag (compare-and-set, so a concurrent edit is never overwritten).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import structlog
from aiohttp import web
from opentelemetry import trace

from services.cli.view import StackView
from services.console import app as web_app
from services.console.auth import Login, LoginMode, settle
from services.console.config import ConsoleSettings
from services.console.state import ConsoleState
from shared import subjects
from shared.bus import Bus, RevisionConflictError
from shared.messages import (
    ControlAction,
    ControlCommand,
    ControlReply,
    FeedStatus,
    Fill,
    OrderEvent,
    PnlSummary,
    RiskState,
    StrategySpec,
    StrategyStatus,
)
from shared.runtime import ServiceContext
from shared.tasks import cancel_and_wait

T = TypeVar("T")
ORDER_EVENTS = subjects.STREAM_SUBJECTS[subjects.STREAM_ORDER_EVENTS][0]
FILLS = subjects.STREAM_SUBJECTS[subjects.STREAM_FILLS][0]
CONTROL_TIMEOUT_S = 5.0
_log = structlog.get_logger("console")


def current_trace_id() -> str:
    """The trace of the message being handled (the bus opens its span from the W3C `traceparent`
    header), as Jaeger spells it; "" when the message carried none."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


class ConsoleService:
    """The web console: one page of the whole stack, live, with the operator's actions."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.state = ConsoleState(jaeger_url=settings.jaeger_url, equity_every_s=settings.equity_every_s)
        self.login = Login(LoginMode.NONE)
        self.url = ""
        self._bus: Bus | None = None
        self._runner: web.AppRunner | None = None
        self._listeners: set[asyncio.Queue[str]] = set()
        self._dirty = asyncio.Event()
        self._refresh_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ---- lifecycle ----
    async def start(self, ctx: ServiceContext) -> None:
        self._bus = bus = ctx.bus
        self.login = settle(self.settings)
        if self.login.generated:
            # Printed once (the log file is the operator's); only its hash is kept.
            print(
                f"console: first start: the operator password is {self.login.generated}"
                f" (its hash is in {self.settings.password_file}; delete that file for a new one)",
                file=sys.stderr,
                flush=True,
            )
        if self.login.problem:
            ctx.log.warning("console_read_only", problem=self.login.problem)
        await self._reload()
        await self._listen(bus)
        app = web_app.build_app(
            self,
            self,
            self.login,
            trusted_header=self.settings.trusted_header,
            ttl_s=self.settings.session_ttl_s,
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        port = int(sockets[0].getsockname()[1]) if sockets else self.settings.port
        self.url = f"http://{self.settings.host}:{port}/"
        self._tasks = [
            asyncio.create_task(self._push_loop(), name="console-push"),
            asyncio.create_task(self._refresh_loop(), name="console-kv-refresh"),
        ]
        ctx.add_ready_detail("console", lambda: {"url": self.url, "login": self.login.mode.value})
        ctx.log.info("console_listening", url=self.url, login=self.login.mode.value)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        for queue in self._listeners:  # ends every page's event stream
            if queue.full():
                queue.get_nowait()
            queue.put_nowait("")
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what the page shows ----
    async def _listen(self, bus: Bus) -> None:
        view = self.state.view
        await bus.subscribe(
            subjects.feed_status(subjects.ANY), FeedStatus, self._then(view.on_feed), traced=False
        )
        await bus.follow(
            subjects.strategy_status(subjects.ANY),
            StrategyStatus,
            self._then(view.on_status),
            latest_only=True,
        )
        await bus.subscribe(subjects.RISK_STATE, RiskState, self._then(view.on_risk), traced=False)
        await bus.subscribe(subjects.RISK_PNL, PnlSummary, self._then(self.state.on_pnl), traced=False)
        # Traced: the handler runs in the span of the message's own trace, which the page links to.
        await bus.subscribe(ORDER_EVENTS, OrderEvent, self._then(self._on_order))
        await bus.subscribe(FILLS, Fill, self._then(self._on_fill))

    async def _on_order(self, event: OrderEvent) -> None:
        await self.state.on_order(event, current_trace_id())

    async def _on_fill(self, fill: Fill) -> None:
        await self.state.on_fill(fill, current_trace_id())

    def _then(self, handler: Callable[[T], Awaitable[None]]) -> Callable[[T], Awaitable[None]]:
        """`handler`, then a live update is due."""

        async def run(message: T) -> None:
            await handler(message)
            self._dirty.set()

        return run

    async def _reload(self) -> None:
        """Services, specs and leases (and, at start, risk state and PnL) from KV."""
        assert self._bus is not None
        fresh = StackView()
        await fresh.load(self._bus)
        self.state.replace_kv(fresh)
        self._dirty.set()

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh_now.wait(), self.settings.kv_refresh_s)
            self._refresh_now.clear()
            try:
                await self._reload()
            except Exception as exc:  # NATS away for a moment: the page keeps what it has
                _log.warning("console_kv_refresh_failed", error=str(exc))

    async def _push_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self._listeners:
                update = json.dumps(self.state.snapshot(time.time_ns(), full_curve=False))
                for queue in self._listeners:
                    if queue.full():  # a slow page skips to the newest state
                        queue.get_nowait()
                    queue.put_nowait(update)
            await asyncio.sleep(self.settings.push_interval_s)

    # ---- web_app.Source ----
    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot(time.time_ns())

    def listen(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._listeners.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue[str]) -> None:
        self._listeners.discard(queue)

    # ---- web_app.Actions ----
    async def halt(self, reason: str, operator: str) -> tuple[bool, str]:
        return await self._control(ControlAction.HALT, reason, operator)

    async def resume(self, reason: str, operator: str) -> tuple[bool, str]:
        return await self._control(ControlAction.RESUME, reason, operator)

    async def _control(self, action: ControlAction, reason: str, operator: str) -> tuple[bool, str]:
        """Risk's kill switch, exactly as `algopioneer halt` / `resume` asks for it."""
        assert self._bus is not None
        command = ControlCommand(
            action=action, reason=reason, operator=f"console:{operator}", requested_ns=time.time_ns()
        )
        try:
            reply = await self._bus.request(
                subjects.RISK_CONTROL, command, ControlReply, timeout=CONTROL_TIMEOUT_S
            )
        except Exception as exc:  # no responder or timeout: the risk service is down
            return False, f"the risk service did not answer ({type(exc).__name__}); is it running?"
        return reply.ok, reply.detail

    async def set_enabled(self, strategy_id: str, enabled: bool) -> tuple[bool, str]:
        """Start or stop an instance through its spec (its worker follows the spec)."""
        assert self._bus is not None
        kv = await self._bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
        try:
            entry = await kv.get(strategy_id)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            return False, f"instance {strategy_id} has a spec this console cannot read"
        if entry is None:
            return False, f"no such instance: {strategy_id}"
        word = "started" if enabled else "stopped"
        if entry.value.enabled != enabled:
            try:
                await kv.update(
                    strategy_id, msgspec.structs.replace(entry.value, enabled=enabled), last=entry.revision
                )
            except RevisionConflictError:
                return False, f"instance {strategy_id} changed meanwhile; try again"
        self._refresh_now.set()
        return True, f"{word} {strategy_id}"
