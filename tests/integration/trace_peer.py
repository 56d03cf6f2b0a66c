"""A separate process for the trace-propagation test: `publish` or `consume` one message."""

from __future__ import annotations

import asyncio
import sys

import structlog

from shared import messages as m
from shared.bus import Bus
from shared.config import NatsSettings
from shared.telemetry import configure_logging, configure_tracing, shutdown_tracing, tracer

SUBJECT = "test.trace.intent"


async def main(role: str, url: str) -> None:
    configure_logging(f"trace-{role}")
    configure_tracing(f"trace-{role}")
    bus = await Bus.connect(NatsSettings(url=url), service=role)
    log = structlog.get_logger()
    if role == "consume":
        done = asyncio.Event()

        async def handler(signal: m.Signal) -> None:
            log.info("signal_received", strategy_id=signal.strategy_id)
            done.set()

        await bus.subscribe(SUBJECT, m.Signal, handler)
        await bus.nc.flush()
        print("ready", flush=True)
        await asyncio.wait_for(done.wait(), 20)
    else:
        with tracer("test").start_as_current_span("decide"):
            log.info("publishing")
            await bus.publish(SUBJECT, m.Signal(strategy_id="s1", action=m.SignalAction.BUY, signal_ns=0))
    await bus.close()
    shutdown_tracing()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
