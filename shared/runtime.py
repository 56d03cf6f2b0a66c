"""One way to run any service: settings → telemetry → HTTP health → NATS → provision → service.

`run_service` returns a process exit code: 0 after a clean stop, 2 for a config error, 3 when NATS
cannot be reached. Both errors print one line that says what is wrong (no traceback).
Shutdown on SIGTERM/SIGINT: the service stops first (it may still publish), then the bus drains,
then telemetry flushes, then the HTTP server closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import structlog
import uvloop
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics, streams, subjects
from shared.bus import Bus
from shared.config import ServiceSettings, load_settings
from shared.errors import BusUnavailableError, ConfigError
from shared.messages.ops import ServiceHeartbeat
from shared.telemetry import configure_logging, configure_tracing, shutdown_tracing

S = TypeVar("S", bound=ServiceSettings)
EXIT_OK, EXIT_CONFIG, EXIT_NO_NATS = 0, 2, 3
HEARTBEAT_INTERVAL_S = 5.0


class ServiceContext:
    """What a running service gets from the runtime: settings, the bus, readiness hooks, a logger."""

    def __init__(self, name: str, settings: ServiceSettings, bus: Bus) -> None:
        self.name = name
        self.settings = settings
        self.bus = bus
        self.log = structlog.get_logger(name)
        self._checks: dict[str, Callable[[], bool]] = {"nats": lambda: bus.is_connected}
        self._details: dict[str, Callable[[], Any]] = {}
        self.stop_requested = asyncio.Event()

    def add_ready_check(self, name: str, check: Callable[[], bool]) -> None:
        """`/ready` is true only while every check returns True."""
        self._checks[name] = check

    def add_ready_detail(self, name: str, detail: Callable[[], Any]) -> None:
        """Extra JSON shown by `/ready` (breaker state, feed staleness, owned instances)."""
        self._details[name] = detail

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Evaluate every check; a check that raises counts as not ready."""
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                results[name] = bool(check())
            except Exception:
                results[name] = False
        details: dict[str, Any] = {}
        for name, detail in self._details.items():
            try:
                details[name] = detail()
            except Exception as exc:
                details[name] = f"error: {exc}"
        ready = all(results.values())
        metrics.SERVICE_READY.set(1 if ready else 0)
        return ready, {"ready": ready, "checks": results, "details": details}


class Service(Protocol):
    """A service is started once with its context and stopped once."""

    async def start(self, ctx: ServiceContext) -> None:
        """Subscribe, start loops; return promptly."""

    async def stop(self) -> None:
        """Stop loops and finish in-flight work; the bus is still connected here."""


class HealthServer:
    """`/health` (liveness), `/ready` (readiness with details) and `/metrics` (Prometheus) on aiohttp."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.context: ServiceContext | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Bind and serve; returns the bound port (useful when 0 asked for a free one)."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._ready)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": self.name})

    async def _ready(self, _: web.Request) -> web.Response:
        if self.context is None:
            return web.json_response({"ready": False, "checks": {"started": False}}, status=503)
        ready, body = self.context.readiness()
        return web.json_response(body, status=200 if ready else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        if self.context is not None:
            self.context.readiness()  # keeps the service_ready gauge current at scrape time
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _heartbeat(ctx: ServiceContext, http_port: int) -> None:
    """Keep this service's entry in the `services` KV bucket fresh (its TTL drops dead services)."""
    kv = await ctx.bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
    instance = f"{socket.gethostname()}-{os.getpid()}"
    key = f"{ctx.name}.{subjects.token(instance.replace('.', '-'))}"
    started = time.time_ns()
    while True:
        ready, body = ctx.readiness()
        beat = ServiceHeartbeat(
            service=ctx.name,
            instance=instance,
            ready=ready,
            checks=body["checks"],
            details_json=json.dumps(body["details"], default=str),
            http_port=http_port,
            started_ns=started,
            updated_ns=time.time_ns(),
        )
        try:
            await kv.put(key, beat)
        except Exception as exc:  # NATS away: readiness already says so; try again next beat
            ctx.log.debug("heartbeat_failed", error=str(exc))
        await asyncio.sleep(HEARTBEAT_INTERVAL_S)


async def serve(name: str, settings: S, factory: Callable[[S], Service]) -> int:
    """Run one service until SIGTERM/SIGINT; returns the exit code."""
    log = structlog.get_logger(name)
    health = HealthServer(name, settings.http.host, settings.http.port)
    port = await health.start()
    log.info("http_listening", host=settings.http.host, port=port)
    try:
        bus = await Bus.connect(settings.nats, service=name)
    except BusUnavailableError as exc:
        log.error("nats_unavailable", error=str(exc))
        print(f"{name}: {exc}", file=sys.stderr)
        await health.stop()
        return EXIT_NO_NATS
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(health.stop)
        stack.callback(shutdown_tracing)
        stack.push_async_callback(bus.close)
        await streams.provision(bus.js, replicas=settings.nats.stream_replicas)
        ctx = ServiceContext(name, settings, bus)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, ctx.stop_requested.set)
        service = factory(settings)
        await service.start(ctx)
        stack.push_async_callback(service.stop)
        health.context = ctx
        beat = asyncio.create_task(_heartbeat(ctx, port), name="heartbeat")
        stack.callback(beat.cancel)
        log.info("service_started")
        await ctx.stop_requested.wait()
        log.info("service_stopping")
    log.info("service_stopped")
    return EXIT_OK


def run_service(name: str, settings_type: type[S], factory: Callable[[S], Service]) -> int:
    """Entry point for `python -m services.<name>`: load settings, set up telemetry, serve."""
    try:
        settings = load_settings(settings_type, section=name)
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(name, settings.log.level)
    configure_tracing(name)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(serve(name, settings, factory))
