"""An execution's heartbeat for CLI tests, written by `shared.runtime` exactly as a running execution
service writes it. It runs on a thread and event loop of its own: the CLI under test runs its own
`asyncio.run` on the test's thread."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import TracebackType

from shared import routing, runtime, streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings, ServiceSettings
from shared.messages import ServiceHeartbeat


async def purge_executions(bus: Bus) -> None:
    """Drop every execution heartbeat (a stopped one stays in the bucket until its TTL)."""
    await streams.provision(bus.js)
    kv = await bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
    for key in await kv.keys():
        if key.startswith("execution."):
            await kv.delete(key)


def no_executions(url: str) -> None:
    """`purge_executions` from synchronous code."""

    async def run() -> None:
        bus = await Bus.connect(NatsSettings(url=url), service="test")
        try:
            await purge_executions(bus)
        finally:
            await bus.close()

    asyncio.run(run())


class ExecutionRunning:
    """`with ExecutionRunning(url, "paper"):` an execution of that mode heartbeats on the stack."""

    def __init__(self, url: str, mode: str, market: str = "coinbase") -> None:
        self.url = url
        self.details = {"mode": mode, "venue": routing.execution_venue(market, mode), "market": market}
        self._beating = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"execution-{mode}", daemon=True)

    def __enter__(self) -> ExecutionRunning:
        self._thread.start()
        if not self._beating.wait(10) or self._error is not None:
            raise RuntimeError(f"the execution heartbeat did not start: {self._error!r}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._beating.set()

    async def _main(self) -> None:
        settings = ServiceSettings(nats=NatsSettings(url=self.url))
        bus = await Bus.connect(settings.nats, service="execution")
        await streams.provision(bus.js)  # as `shared.runtime.serve` does before a service starts
        ctx = runtime.ServiceContext("execution", settings, bus)
        ctx.add_ready_detail("execution", lambda: self.details)
        kv = await bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
        started = time.time_ns()
        beat = asyncio.create_task(runtime._heartbeat(ctx, 0))
        try:
            while not self._beating.is_set():
                for key in await kv.keys():
                    entry = await kv.get(key) if key.startswith("execution.") else None
                    if entry is not None and entry.value.updated_ns >= started:
                        self._beating.set()
                await asyncio.sleep(0.02)
            await asyncio.to_thread(self._stop.wait)
        finally:
            beat.cancel()
            await purge_executions(bus)
            await bus.close()


def write_heartbeat(url: str, mode: str, *, key: str, age_s: float = 0.0, market: str = "coinbase") -> None:
    """One heartbeat entry of an execution written straight to KV (as `shared.runtime` writes them),
    `age_s` old: a second execution beside a running one, or one that stopped."""
    details = {"execution": {"mode": mode, "venue": routing.execution_venue(market, mode), "market": market}}
    now = time.time_ns() - int(age_s * 1e9)
    beat = ServiceHeartbeat(
        service="execution",
        instance=key,
        ready=True,
        checks={"nats": True},
        details_json=json.dumps(details),
        started_ns=now,
        updated_ns=now,
    )

    async def run() -> None:
        bus = await Bus.connect(NatsSettings(url=url), service="test")
        try:
            await streams.provision(bus.js)
            await (await bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)).put(f"execution.{key}", beat)
        finally:
            await bus.close()

    asyncio.run(run())
