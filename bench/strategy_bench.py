"""Strategy-service overhead: ticks/s one worker sustains across N instances vs the bare core loop.

A publisher process blasts fresh `Ticker`s round-robin over every instance's products (as fast as
it can) into one in-process strategy worker that owns all N instances (pairs: 2 products each;
MA: 1). Measured over a steady window: ticks the worker received from NATS per second, core updates
per second (the dual-leg engine coalesces a burst on one leg into one update, as the original's
latest-vs-latest did), and ticks dropped by the bounded queues. The bare loop runs the same cores
(same params, same products' grids) over the same number of ticks in this process, with no bus,
no decode and no asyncio. Reported: both rates and the service/bare ratio. Never pass/fail: on a
shared 2-core machine the publisher and the worker compete for CPU, so read the ratio, not the
absolute numbers. Pairs use an entry z that cannot be reached, so every tick takes the full signal
path and no order is sent (orders need fills, which this benchmark does not simulate).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import tempfile
import time
from decimal import Decimal
from typing import Any

from shared.routing import execution_venue

INSTANCES = 100
DURATION_S = 4.0
WARMUP_S = 1.0
VENUE = "coinbase"
ORDER_VENUE = execution_venue(VENUE, "paper")
"""The paper specs' orders (and so their product rules) are on the market's paper venue."""


def _products(kind: str, n: int) -> list[tuple[str, ...]]:
    if kind == "pairs":
        return [(f"BA{i}-USD", f"BB{i}-USD") for i in range(n)]
    return [(f"BM{i}-USD",) for i in range(n)]


def _spec(kind: str, i: int, products: tuple[str, ...]) -> Any:
    from shared.messages.strategy import MaCrossoverParams, PairsParams, StrategySpec

    if kind == "pairs":
        params: Any = PairsParams(
            leg1_id=products[0],
            leg2_id=products[1],
            window=60,
            entry_z=50.0,
            exit_z=0.5,
            max_tick_age_ms=60_000,
        )
    else:
        params = MaCrossoverParams(product_id=products[0], short_window=5, long_window=20, interval_s=1)
    return StrategySpec(id=f"bench-{kind}-{i}", params=params)


def _info(product: str) -> Any:
    from shared.messages import ProductInfo

    return ProductInfo(
        venue=ORDER_VENUE,
        product_id=product,
        base_increment=Decimal("0.00000001"),
        price_increment=Decimal("0.01"),
    )


# ---- publisher (own process) ----
def _publisher_main(url: str, products: list[str], seconds: float, out: Any) -> None:
    import uvloop

    out.put(uvloop.run(_publish(url, products, seconds)))


async def _publish(url: str, products: list[str], seconds: float) -> int:
    import nats

    from shared import codec, subjects
    from shared.messages.market import Ticker

    nc = await nats.connect(url)
    subject = {p: subjects.ticker(VENUE, p) for p in products}
    price = {p: 100.0 + random.random() for p in products}
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in products:
            price[p] *= 1.0 + random.gauss(0.0, 0.0005)
            mid = Decimal(f"{price[p]:.2f}")
            now = time.time_ns()
            tick = Ticker(
                venue=VENUE,
                product_id=p,
                bid=mid - Decimal("0.01"),
                ask=mid + Decimal("0.01"),
                bid_size=Decimal(1),
                ask_size=Decimal(1),
                last=mid,
                exchange_time_ns=now,
                receive_time_ns=now,
                sequence=sent,
            )
            await nc.publish(subject[p], codec.encode(tick))
            sent += 1
        await nc.flush()
    await nc.close()
    return sent


# ---- the worker under test ----
async def _service_run(url: str, kind: str, n: int, seconds: float) -> dict[str, float]:
    from services.strategy.config import StrategySettings
    from services.strategy.service import StrategyService
    from services.strategy.specs import put_spec
    from shared import streams, subjects
    from shared.bus import Bus
    from shared.config import NatsSettings
    from shared.messages import ProductInfo
    from shared.runtime import ServiceContext

    nats_settings = NatsSettings(url=url)
    admin = await Bus.connect(nats_settings, service="bench-admin")
    await streams.provision(admin.js)
    groups = _products(kind, n)
    products_kv = await admin.kv(subjects.KV_PRODUCTS, ProductInfo)
    for group in groups:
        for product in group:
            await products_kv.put(subjects.product_key(ORDER_VENUE, product), _info(product))
    for i, group in enumerate(groups):
        await put_spec(admin, _spec(kind, i, group))
    settings = StrategySettings(
        nats=nats_settings,
        worker_id=f"bench-{kind}",
        heartbeat_interval_s=1.0,
        lease_ttl_s=5.0,
        claim_delay_s=0.1,
        warmup_timeout_s=0.0,
        status_interval_s=5.0,
        snapshot_interval_s=30.0,
        tick_queue=10_000,
    )
    bus = await Bus.connect(nats_settings, service="bench-strategy")
    worker = StrategyService(settings)
    await worker.start(ServiceContext("strategy", settings, bus))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = [s for s in worker.slots.values() if s.instance is not None and s.instance.ready.is_set()]
        if len(ready) == n:
            break
        await asyncio.sleep(0.1)

    def counters() -> tuple[int, int, int]:
        assert worker._ctx is not None
        router = worker._ctx.router
        updates = sum(s.instance.ticks for s in worker.slots.values() if s.instance is not None)
        return router.received, updates, router.dropped

    out: Any = mp.get_context("spawn").Queue()
    all_products = [p for group in groups for p in group]
    proc = mp.get_context("spawn").Process(
        target=_publisher_main, args=(url, all_products, WARMUP_S + seconds, out)
    )
    proc.start()
    await asyncio.sleep(WARMUP_S + 0.5)  # the spawned interpreter takes a moment to start
    r0, u0, d0 = counters()
    t0 = time.perf_counter()
    await asyncio.sleep(seconds - 0.5)
    r1, u1, d1 = counters()
    elapsed = time.perf_counter() - t0
    sent = await asyncio.to_thread(out.get, True, 120)
    await asyncio.to_thread(proc.join, 30)
    await worker.stop()
    await bus.close()
    for i in range(n):
        kv = await admin.js.key_value(subjects.KV_STRATEGY_SPECS)
        await kv.delete(f"bench-{kind}-{i}")
    await admin.close()
    return {
        "received_per_s": (r1 - r0) / elapsed,
        "updates_per_s": (u1 - u0) / elapsed,
        "dropped": float(d1 - d0),
        "offered_per_s": sent / (WARMUP_S + seconds),
    }


# ---- the bare core loop ----
def _bare(kind: str, n: int, ticks: int) -> float:
    """Ticks/s through the same cores with nothing around them (quotes already decoded)."""
    from services.strategy.build import build_engine
    from services.strategy.config import StrategySettings
    from shared.strategies import Quote

    settings = StrategySettings()
    groups = _products(kind, n)
    prices = [[100.0 + random.random() for _ in g] for g in groups]
    if kind == "pairs":
        cores = []
        for i, g in enumerate(groups):
            engine, _ = build_engine(_spec(kind, i, g), {p: _info(p) for p in g}, settings, None)
            cores.append(engine.strategy)  # type: ignore[attr-defined]
        quotes = [[Quote(price=Decimal("100"), ts_ns=0) for _ in g] for g in groups]
        started = time.perf_counter()
        done = 0
        while done < ticks:
            for i, strategy in enumerate(cores):
                for leg in (0, 1):
                    prices[i][leg] *= 1.0 + random.gauss(0.0, 0.0005)
                    now = time.time_ns()
                    quotes[i][leg] = Quote(price=Decimal(f"{prices[i][leg]:.2f}"), ts_ns=now)
                    strategy.on_tick(now, quotes[i][0], quotes[i][1])
                    done += 1
        return done / (time.perf_counter() - started)
    from shared.messages.strategy import MaCrossoverParams
    from shared.strategies import MaCrossover

    ma = [MaCrossover(_spec(kind, i, g).params) for i, g in enumerate(groups)]
    assert all(isinstance(c.params, MaCrossoverParams) for c in ma)
    last_start = [0] * n
    started = time.perf_counter()
    done = 0
    while done < ticks:
        for i, core in enumerate(ma):
            prices[i][0] *= 1.0 + random.gauss(0.0, 0.0005)
            close = Decimal(f"{prices[i][0]:.2f}")
            start = time.time_ns() // 1_000_000_000
            if start > last_start[i]:
                core.on_bar(last_start[i], close)
                last_start[i] = start
            done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    """Print service vs bare ticks/s for pairs (and MA) with 100 instances, and the ratio."""
    import uvloop

    from shared.natsserver import NatsServer
    from shared.telemetry import configure_logging

    configure_logging("strategy-bench", "warning")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=INSTANCES)
    parser.add_argument("--seconds", type=float, default=DURATION_S)
    parser.add_argument("--kind", choices=("pairs", "ma", "both"), default="both")
    args, _ = parser.parse_known_args()
    kinds = ("pairs", "ma") if args.kind == "both" else (args.kind,)
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(tmp)
        url = server.start()
        try:
            print(
                f"{'kind':>6} {'inst':>5} {'offered/s':>10} {'worker/s':>10} {'updates/s':>10} "
                f"{'dropped':>8} {'bare/s':>10} {'worker/bare':>11}",
                flush=True,
            )
            for kind in kinds:
                svc = uvloop.run(_service_run(url, kind, args.instances, args.seconds))
                bare = _bare(kind, args.instances, max(50_000, int(svc["received_per_s"] * 2)))
                print(
                    f"{kind:>6} {args.instances:>5} {svc['offered_per_s']:>10.0f} {svc['received_per_s']:>10.0f} "
                    f"{svc['updates_per_s']:>10.0f} {svc['dropped']:>8.0f} {bare:>10.0f} "
                    f"{svc['received_per_s'] / bare:>10.2f}x",
                    flush=True,
                )
            print("goal: ≥ 20,000 ticks/s per worker for pairs (worker/s column)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
