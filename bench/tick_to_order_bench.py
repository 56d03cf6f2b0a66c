"""Tick-to-order through the real services vs a raw nats-py 4-hop pipeline, same run, same shape.

Real side: the launcher runs nats-server, `strategy`, `risk` and `execution` (paper) as processes. The
bench process plays the market-data service: it publishes normalized `md.ticker` messages (as
`marketdata` does after decoding the venue feed) for BTC-USD and the BIP future at a fixed rate. One
basis instance is idle on those ticks until a *trigger* tick (the future 5 % above spot) makes it
enter; the bench measures from publishing the trigger to receiving the first `Fill` of that entry
on `fills.coinbase-paper.>` (4 hops: tick → strategy → intent → risk → approved order → execution →
fill). When the fill is back the future returns to spot, the instance exits, and the next trigger
follows 50 ms later. Raw side: the same source/sink in this process and three forwarding processes
(hop 1 forwards only triggers, as the strategy only trades on them; hops 2 and 3 forward all),
plain nats-py bytes. Reported: p50/p99 at 1,000 and 5,000 ticks/s and the real/raw ratio (goal: p99
≤ 3× raw). Never pass/fail; on a loaded 2-core machine read the ratio, not the µs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import struct
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.routing import execution_venue

RATES = (1_000, 5_000)
DURATION_S = 10.0
TRIGGER_EVERY_S = 0.05
SPOT, FUTURE = "BTC-USD", "BIP-20DEC30-CDE"
PRICE = Decimal("95000")
TRIGGER_PRICE = Decimal("99750")
SID = "bench-basis"
SERVICES = ("risk", "execution-paper", "strategy")
PAPER_VENUE = execution_venue("coinbase", "paper")
"""Where the paper spec's orders go and fill (the ticks stay on the `coinbase` market)."""
STACK_ENV = {
    "ALGOPIONEER_STRATEGY__WARMUP_TIMEOUT_S": "0.1",
    "ALGOPIONEER_RISK__LIMITS__STRATEGY_RATE__PER_SECOND": "100000",
    "ALGOPIONEER_RISK__LIMITS__STRATEGY_RATE__BURST": "100000",
    "ALGOPIONEER_RISK__LIMITS__VENUE_RATE__PER_SECOND": "100000",
    "ALGOPIONEER_RISK__LIMITS__VENUE_RATE__BURST": "100000",
    "ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT": "100000000",
    "ALGOPIONEER_RISK__LIMITS__PRICE_BAND_BPS": "10000",
    "ALGOPIONEER_EXECUTION__PAPER__TAKER_FEE_RATE": "0",
    "ALGOPIONEER_EXECUTION__PAPER__MAKER_FEE_RATE": "0",
    "ALGOPIONEER_EXECUTION__PAPER__FUTURES_TAKER_FEE_RATE": "0",
    "ALGOPIONEER_EXECUTION__PAPER__FUTURES_MAKER_FEE_RATE": "0",
    "ALGOPIONEER_STRATEGY__TAKER_FEE_RATE": "0",
    "ALGOPIONEER_STRATEGY__MAKER_FEE_RATE": "0",
}
PORTFOLIO = [
    {
        "id": SID,
        "params": {
            "type": "basis",
            "spot_id": SPOT,
            "future_id": FUTURE,
            "notional": "1000",
            "entry_bps": "100",
            "exit_bps": "50",
            "slippage_bps": "0",
            "min_profit_bps": "-1000000",
            "entry_cooldown_ms": 0,
            "exit_cooldown_ms": 0,
        },
    }
]


def _ticker(product: str, price: Decimal, seq: int) -> Any:
    from shared.messages import Ticker

    now = time.time_ns()
    step = Decimal("0.01") if product == SPOT else Decimal("5")
    return Ticker(
        venue="coinbase",
        product_id=product,
        bid=price - step,
        ask=price + step,
        bid_size=Decimal(1000),
        ask_size=Decimal(1000),
        last=price,
        exchange_time_ns=now,
        receive_time_ns=now,
        sequence=seq,
    )


class Source:
    """Publishes background ticks at `rate` and a trigger every `TRIGGER_EVERY_S` once the previous
    one came back; returns trigger→sink latencies (ns). `publish(kind, seq)` sends one tick."""

    def __init__(self, rate: int, publish: Any, flush: Any) -> None:
        self.rate = rate
        self.publish = publish
        self.flush = flush
        self.latencies: list[int] = []
        self.lost = 0
        self.pending_since: int | None = None
        self.back = asyncio.Event()

    def arrived(self) -> None:
        if self.pending_since is not None:
            self.latencies.append(time.perf_counter_ns() - self.pending_since)
            self.pending_since = None
            self.back.set()

    async def run(self, duration_s: float) -> None:
        start = time.perf_counter()
        next_trigger = start + 0.5  # half a second of plain ticks first
        i = 0
        while True:
            now = time.perf_counter()
            if now - start > duration_s:
                break
            if self.pending_since is None and now >= next_trigger:
                self.back.clear()
                self.pending_since = time.perf_counter_ns()
                await self.publish("trigger", i)
                await self.flush()
                next_trigger = now + TRIGGER_EVERY_S
            elif self.pending_since is not None and now - self.pending_since / 1e9 > 2.0:
                self.pending_since = None  # no answer in 2 s: count it lost, go on
                self.lost += 1
                next_trigger = now + TRIGGER_EVERY_S
            else:
                await self.publish("spot" if i % 2 else "future", i)
            i += 1
            delay = start + i / self.rate - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            elif i % 64 == 0:
                await asyncio.sleep(0)


def _stats(source: Source) -> tuple[float, float, int, int]:
    samples = sorted(source.latencies)
    if not samples:
        return float("nan"), float("nan"), 0, source.lost
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return statistics.median(samples) / 1e3, p99 / 1e3, len(samples), source.lost


# ---- real services ----
async def _real(rates: tuple[int, ...]) -> dict[int, tuple[float, float, int, int]]:
    import nats

    from services.launcher import Launcher
    from services.stack import PAPER, services_for
    from shared import codec, subjects
    from shared.messages import Fill, Side
    from shared.testing import free_port

    results: dict[int, tuple[float, float, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        portfolio = data / "portfolio.json"
        portfolio.write_text(json.dumps(PORTFOLIO))
        import dataclasses

        entries = [
            dataclasses.replace(e, http_port=free_port())
            for e in services_for(PAPER)
            if e.name in SERVICES and e.available
        ]
        os.environ.update(STACK_ENV)
        launcher = Launcher(data, nats_port=-1, entries=entries, portfolio=portfolio)
        task = asyncio.create_task(launcher.run())
        await asyncio.wait_for(launcher.started.wait(), 60)
        nc = await nats.connect(launcher.nats.url)
        try:
            state = {"future": PRICE}
            current: list[Source] = []

            async def on_fill(msg: Any) -> None:
                fill = codec.decode(msg.data, Fill)
                entry = (fill.product_id == SPOT) == (fill.side is Side.BUY)  # long spot, short future
                if fill.strategy_id == SID and entry:
                    # The entry is in: back to spot, so the instance exits. Also for a trigger sent
                    # just before a phase ended, or the instance would hold and ignore every trigger.
                    state["future"] = PRICE
                    if current and current[0].pending_since is not None:
                        current[0].arrived()

            await nc.subscribe(subjects.fill(PAPER_VENUE, subjects.REST), cb=on_fill)

            async def publish(kind: str, seq: int) -> None:
                if kind == "trigger":
                    state["future"] = TRIGGER_PRICE
                product = SPOT if kind == "spot" else FUTURE
                price = PRICE if product == SPOT else state["future"]
                await nc.publish(
                    subjects.ticker("coinbase", product), codec.encode(_ticker(product, price, seq))
                )

            # warm-up: let the instance be claimed and see both legs
            warm = Source(200, publish, nc.flush)
            current[:] = [warm]
            await warm.run(8.0)
            for rate in rates:
                source = Source(rate, publish, nc.flush)
                current[:] = [source]
                await source.run(DURATION_S)
                results[rate] = _stats(source)
        finally:
            await nc.close()
            launcher.stopping.set()
            await asyncio.wait_for(task, 60)
    return results


# ---- raw nats-py pipeline ----
def _hop_main(url: str, src: str, dst: str, only_triggers: bool, ready: Any, stop: Any) -> None:
    import uvloop

    async def run() -> None:
        import nats

        nc = await nats.connect(url)

        async def forward(msg: Any) -> None:
            if only_triggers and msg.data[:1] != b"T":
                return
            await nc.publish(dst, msg.data)

        await nc.subscribe(src, cb=forward)
        await nc.flush()
        ready.release()
        await asyncio.to_thread(stop.wait)
        await nc.close()

    uvloop.run(run())


async def _raw(rates: tuple[int, ...]) -> dict[int, tuple[float, float, int, int]]:
    import nats

    from shared.natsserver import NatsServer

    results: dict[int, tuple[float, float, int, int]] = {}
    pad = b"x" * 150
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(tmp)
        url = server.start()
        ctx = mp.get_context("spawn")
        ready, stop = ctx.Semaphore(0), ctx.Event()
        hops = [
            ("raw.md", "raw.intent", True),
            ("raw.intent", "raw.order", False),
            ("raw.order", "raw.fill", False),
        ]
        procs = [ctx.Process(target=_hop_main, args=(url, s, d, t, ready, stop)) for s, d, t in hops]
        for p in procs:
            p.start()
        for _ in procs:
            await asyncio.to_thread(ready.acquire)
        nc = await nats.connect(url)
        try:
            current: list[Source] = []

            async def sink(_: Any) -> None:
                current[0].arrived()

            await nc.subscribe("raw.fill", cb=sink)

            async def publish(kind: str, seq: int) -> None:
                await nc.publish(
                    "raw.md", (b"T" if kind == "trigger" else b"N") + struct.pack("<q", seq) + pad
                )

            for rate in rates:
                source = Source(rate, publish, nc.flush)
                current[:] = [source]
                await source.run(DURATION_S)
                results[rate] = _stats(source)
        finally:
            await nc.close()
            stop.set()
            for p in procs:
                p.join(10)
            server.stop()
    return results


def main() -> None:
    """Print p50/p99 (µs) tick→fill for the real services and the raw pipeline, and the ratio."""
    sys.stdout.flush()
    raw = asyncio.run(_raw(RATES))
    with contextlib.redirect_stdout(sys.stderr):  # launcher chatter goes to stderr
        real = asyncio.run(_real(RATES))
    print(f"{'ticks/s':>8} {'pipeline':>9} {'p50 µs':>9} {'p99 µs':>9} {'samples':>8} {'lost':>5}")
    for rate in RATES:
        for name, row in (("raw", raw[rate]), ("services", real[rate])):
            p50, p99, n, lost = row
            print(f"{rate:>8} {name:>9} {p50:>9.0f} {p99:>9.0f} {n:>8} {lost:>5}")
        print(
            f"{rate:>8} {'ratio':>9} {real[rate][0] / raw[rate][0]:>8.2f}x {real[rate][1] / raw[rate][1]:>8.2f}x"
            "   (goal: p99 ≤ 3x raw)",
            flush=True,
        )


if __name__ == "__main__":
    main()
