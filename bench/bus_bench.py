"""Bus overhead: a 3-hop typed pipeline vs a raw nats-py pipeline of the same shape, same run.

Shape (market data → strategy → risk → execution), each stage its own process and connection: a
source publishes ticks at a fixed rate; hop 1 turns a tick into an intent; hop 2 approves it into
an order; a sink records end-to-end latency (CLOCK_MONOTONIC is shared by processes). The typed side
uses our `Bus` (msgpack Structs, metrics); the traced side adds what the order path pays: the
strategy's decision span, W3C trace context in headers and a consumer span per hop. The raw side
forwards bytes with plain nats-py. Reported: p50/p99 at each rate and the typed/raw
ratio (goal ≤ 1.3×). Never pass/fail; on a loaded 2-core machine, read the ratio, not the µs.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import statistics
import struct
import tempfile
import time
from decimal import Decimal
from typing import Any

RATES = (1_000, 10_000)
DURATION_S = 2.0
WARMUP_S = 0.5
PAD = b"x" * 150  # about the size of an encoded Ticker


def _now() -> int:
    return time.monotonic_ns()


async def _pace(rate: int, count: int, send: Any) -> None:
    """Send on a fixed schedule, so a slow consumer shows up as latency (no coordinated omission)."""
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        await send(i)


def _tick(i: int, now_ns: int) -> Any:
    from shared import messages as m

    return m.Ticker(
        venue="coinbase",
        product_id="BTC-USD",
        bid=Decimal("97000.01"),
        ask=Decimal("97000.02"),
        bid_size=Decimal("1.25"),
        ask_size=Decimal("0.5"),
        last=Decimal("97000.01"),
        exchange_time_ns=now_ns,
        receive_time_ns=now_ns,
        sequence=i,
    )


async def _typed_stage(
    role: str, url: str, rate: int, count: int, ready: Any, go: Any, out: Any, finished: Any, *, traced: bool
) -> None:
    from shared import messages as m
    from shared.bus import Bus
    from shared.config import NatsSettings
    from shared.telemetry import configure_tracing, tracer

    configure_tracing(f"bench-{role}")
    decide = tracer("bench")
    bus = await Bus.connect(NatsSettings(url=url), service=role)
    latencies: list[int] = []
    done = asyncio.Event()

    async def strategy(tick: m.Ticker) -> None:
        intent = m.OrderIntent(
            client_order_id=f"bench-{tick.sequence}",
            strategy_id="bench",
            intent_seq=tick.sequence,
            leg=0,
            venue=tick.venue,
            product_id=tick.product_id,
            side=m.Side.BUY,
            order_type=m.OrderType.MARKET,
            size=Decimal("0.001"),
            reference_price=tick.ask,
            created_ns=tick.receive_time_ns,
        )
        if traced:  # the strategy starts the trace when it decides, as in the services
            with decide.start_as_current_span("decide"):
                await bus.publish("bench.intent", intent)
        else:
            await bus.publish("bench.intent", intent, traced=False)

    async def risk(intent: m.OrderIntent) -> None:
        await bus.publish("bench.order", m.Order.from_intent(intent, intent.created_ns), traced=traced)

    async def execution(order: m.Order) -> None:
        latencies.append(_now() - order.approved_ns)
        if len(latencies) >= count:
            done.set()

    if role == "hop1":
        await bus.subscribe("bench.md", m.Ticker, strategy, traced=False, max_pending=100_000)
    elif role == "hop2":
        await bus.subscribe("bench.intent", m.OrderIntent, risk, traced=traced)
    elif role == "sink":
        await bus.subscribe("bench.order", m.Order, execution, traced=traced)
    await bus.nc.flush()
    ready.release()
    await asyncio.to_thread(go.wait)
    if role == "source":

        async def send(i: int) -> None:
            await bus.publish("bench.md", _tick(i, _now()), traced=False)

        await _pace(rate, count, send)
    if role == "sink":
        await asyncio.wait_for(done.wait(), 60)
        out.put(latencies)
    else:
        await asyncio.to_thread(finished.wait)
    await bus.close()


async def _raw_stage(
    role: str, url: str, rate: int, count: int, ready: Any, go: Any, out: Any, finished: Any
) -> None:
    import nats

    nc = await nats.connect(url)
    latencies: list[int] = []
    done = asyncio.Event()

    async def forward_to(subject: str) -> Any:
        async def forward(msg: Any) -> None:
            await nc.publish(subject, msg.data)

        return forward

    async def sink(msg: Any) -> None:
        (sent,) = struct.unpack_from("<q", msg.data)
        latencies.append(_now() - sent)
        if len(latencies) >= count:
            done.set()

    if role == "hop1":
        await nc.subscribe("raw.md", cb=await forward_to("raw.intent"))
    elif role == "hop2":
        await nc.subscribe("raw.intent", cb=await forward_to("raw.order"))
    elif role == "sink":
        await nc.subscribe("raw.order", cb=sink)
    await nc.flush()
    ready.release()
    await asyncio.to_thread(go.wait)
    if role == "source":

        async def send(_: int) -> None:
            await nc.publish("raw.md", struct.pack("<q", _now()) + PAD)

        await _pace(rate, count, send)
    if role == "sink":
        await asyncio.wait_for(done.wait(), 60)
        out.put(latencies)
    else:
        await asyncio.to_thread(finished.wait)
    await nc.close()


def _stage_main(
    kind: str, role: str, url: str, rate: int, count: int, ready: Any, go: Any, out: Any, finished: Any
) -> None:
    import uvloop

    if kind == "raw":
        uvloop.run(_raw_stage(role, url, rate, count, ready, go, out, finished))
    else:
        uvloop.run(_typed_stage(role, url, rate, count, ready, go, out, finished, traced=kind == "traced"))


def _measure(kind: str, url: str, rate: int) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    count = int(rate * (DURATION_S + WARMUP_S))
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    finished = ctx.Event()
    out = ctx.Queue()
    roles = ("sink", "hop2", "hop1", "source")
    procs = [
        ctx.Process(target=_stage_main, args=(kind, r, url, rate, count, ready, go, out, finished))
        for r in roles
    ]
    for p in procs:
        p.start()
    for _ in roles:
        ready.acquire()
    go.set()
    latencies: list[int] = out.get(timeout=120)
    finished.set()
    for p in procs:
        p.join(30)
    samples = sorted(latencies[int(rate * WARMUP_S) :])
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return statistics.median(samples) / 1e3, p99 / 1e3


def main() -> None:
    """Print p50/p99 (µs) for raw and typed at each rate, and the ratio."""
    from shared.natsserver import NatsServer

    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(tmp)
        url = server.start()
        try:
            print(f"{'rate/s':>8} {'pipeline':>8} {'p50 µs':>9} {'p99 µs':>9}", flush=True)
            for rate in RATES:
                raw = _measure("raw", url, rate)
                typed = _measure("typed", url, rate)
                traced = _measure("traced", url, rate)
                for name, (p50, p99) in (("raw", raw), ("typed", typed), ("traced", traced)):
                    print(f"{rate:>8} {name:>8} {p50:>9.0f} {p99:>9.0f}", flush=True)
                for name, (p50, p99) in (("typed", typed), ("traced", traced)):
                    print(
                        f"{rate:>8} {name + '/raw':>8} {p50 / raw[0]:>8.2f}x {p99 / raw[1]:>8.2f}x  (goal ≤ 1.3x)"
                    )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
