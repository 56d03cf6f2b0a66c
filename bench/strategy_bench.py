"""Strategy-service overhead: ticks/s one worker sustains across N instances vs the bare core loop.

A publisher process blasts fresh `Ticker`s round-robin over every instance's products (as fast as
it can) into one in-process strategy worker that owns all N instances. Kinds: `pairs` (2 products
each), `ma` (1) and `plugin` (1): the user-style strategy in `bench/plugin_strategy.py`, a rolling
mean on every tick that bids rarely, loaded by file reference through the real loader and run
from the code stored in KV `strategy_code`, exactly as `algopioneer start` deploys one.

Measured from the first tick the worker takes to the last, once it has worked off its backlog (the
publisher floods it for `--seconds`; each tick costs its reading and decoding whether it is handled
at once or later): ticks the worker received from NATS per second, updates per second (pairs:
signals, a burst on one leg coalescing into one; ma: closed bars; plugin: the strategy's own
`on_tick` calls) and ticks dropped (pairs' products are conflated: only the newest tick counts). The
bare loop runs the same strategy on the same runtime (`Runner` / `TwoLegRunner`, same params and
product grids) over ticks built beforehand, with no bus, no decode and no asyncio. Reported: both
rates and the worker/bare ratio. Never pass/fail on timing: on a shared 2-core machine the
publisher and the worker compete for CPU, so read the ratio. It fails (exit 1, last line says why)
only when it measured nothing, an instance never started, the backlog stopped moving, or a
plug-in tick was lost (every tick sent must reach a strategy's `on_tick`).
Pairs use an entry z that cannot be reached, so every tick takes the full signal path and no
order is sent (orders need fills, which this benchmark does not simulate).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.routing import execution_venue

INSTANCES = 100
DURATION_S = 4.0
VENUE = "coinbase"
ORDER_VENUE = execution_venue(VENUE, "paper")
"""The paper specs' orders (and so their product rules) are on the market's paper venue."""
KINDS = ("pairs", "ma", "plugin")
PLUGIN_REF = f"{Path(__file__).with_name('plugin_strategy.py')}:DipBuyer"
TICK_STEP_NS = 5_000_000
"""Exchange-time spacing of one product's ticks in the bare loop: 200/s, each product's share of
20,000 ticks/s over 100 instances (so bars close as often as in the worker)."""


class BenchFailed(Exception):
    """The benchmark measured nothing, or lost what it measured."""


def _products(kind: str, n: int) -> list[tuple[str, ...]]:
    if kind == "pairs":
        return [(f"BA{i}-USD", f"BB{i}-USD") for i in range(n)]
    prefix = "BP" if kind == "plugin" else "BM"
    return [(f"{prefix}{i}-USD",) for i in range(n)]


def _specs(kind: str, n: int) -> tuple[list[Any], Any]:
    """The instances' specs, and the plug-in's source to store first (None for built-ins)."""
    from shared.messages.strategy import MaCrossoverParams, PairsParams, StrategySpec
    from shared.sdk.specs import resolve

    specs, code = [], None
    for i, products in enumerate(_products(kind, n)):
        params: Any
        if kind == "pairs":
            params = PairsParams(
                leg1_id=products[0],
                leg2_id=products[1],
                window=60,
                entry_z=50.0,
                exit_z=0.5,
                max_tick_age_ms=60_000,
            )
        elif kind == "ma":
            params = MaCrossoverParams(product_id=products[0], short_window=5, long_window=20, interval_s=1)
        else:
            resolved = resolve(PLUGIN_REF, {"product_id": products[0]})
            params, code = resolved.params, resolved.code
        specs.append(StrategySpec(id=f"bench-{kind}-{i}", params=params))
    return specs, code


def _info(product: str) -> Any:
    from shared.messages import ProductInfo

    return ProductInfo(
        venue=ORDER_VENUE,
        product_id=product,
        base_increment=Decimal("0.00000001"),
        price_increment=Decimal("0.01"),
    )


def _walk(rng: random.Random, price: float) -> float:
    return price * (1.0 + rng.gauss(0.0, 0.0005))


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
    rng = random.Random()
    price = {p: 100.0 + rng.random() for p in products}
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in products:
            price[p] = _walk(rng, price[p])
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
def _plugin_ticks(worker: Any) -> int:
    """`on_tick` calls so far, summed over the plug-in instances' strategies (0 for built-ins)."""
    total = 0
    for slot in worker.slots.values():
        runner = getattr(slot.instance.engine, "runner", None) if slot.instance is not None else None
        total += getattr(getattr(runner, "strategy", None), "ticks", 0)
    return total


async def _service_run(url: str, kind: str, n: int, seconds: float) -> dict[str, float]:
    from services.strategy.config import StrategySettings
    from services.strategy.service import StrategyService
    from services.strategy.specs import put_spec
    from shared import streams, subjects
    from shared.bus import Bus
    from shared.config import NatsSettings
    from shared.messages import ProductInfo
    from shared.runtime import ServiceContext
    from shared.sdk.codestore import put_code

    nats_settings = NatsSettings(url=url)
    admin = await Bus.connect(nats_settings, service="bench-admin")
    await streams.provision(admin.js)
    products_kv = await admin.kv(subjects.KV_PRODUCTS, ProductInfo)
    for group in _products(kind, n):
        for product in group:
            await products_kv.put(subjects.product_key(ORDER_VENUE, product), _info(product))
    specs, code = _specs(kind, n)
    if code is not None:
        await put_code(admin, code.source, code.filename)
    for spec in specs:
        await put_spec(admin, spec)
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
    try:
        return await _measure(worker, url, kind, n, seconds)
    finally:
        await worker.stop()
        await bus.close()
        kv = await admin.js.key_value(subjects.KV_STRATEGY_SPECS)
        for spec in specs:
            await kv.delete(spec.id)
        await admin.close()


async def _measure(worker: Any, url: str, kind: str, n: int, seconds: float) -> dict[str, float]:
    deadline = time.monotonic() + 60
    ready = 0
    while time.monotonic() < deadline:
        ready = sum(1 for s in worker.slots.values() if s.instance is not None and s.instance.ready.is_set())
        if ready == n:
            break
        await asyncio.sleep(0.1)
    if ready < n:
        raise BenchFailed(f"{kind}: only {ready} of {n} instances started within 60 s")
    router = worker._ctx.router

    def counters() -> tuple[int, int]:
        if kind == "plugin":
            return router.received, _plugin_ticks(worker)
        return router.received, sum(s.instance.ticks for s in worker.slots.values() if s.instance is not None)

    out: Any = mp.get_context("spawn").Queue()
    all_products = [p for group in _products(kind, n) for p in group]
    proc = mp.get_context("spawn").Process(target=_publisher_main, args=(url, all_products, seconds, out))
    proc.start()
    started = time.monotonic()
    while time.monotonic() - started < 60:  # the spawned interpreter takes a while to start
        if router.received:
            break
        await asyncio.sleep(0.01)
    first_ns, (r0, u0) = router.last_tick_ns, counters()
    sent = await asyncio.to_thread(out.get, True, 120)
    await asyncio.to_thread(proc.join, 30)
    await _drained(kind, counters)
    elapsed = (router.last_tick_ns - first_ns) / 1e9
    (r1, u1), dropped = counters(), router.dropped
    if kind == "plugin" and (u1 != r1 or r1 + dropped != sent):
        raise BenchFailed(
            f"plugin: {sent} ticks sent, {r1} received, {dropped} dropped, {u1} reached the strategies"
        )
    return {
        "received_per_s": (r1 - r0) / elapsed if elapsed > 0 else 0.0,
        "updates_per_s": (u1 - u0) / elapsed if elapsed > 0 else 0.0,
        "dropped": float(dropped),
        "offered_per_s": sent / seconds,
    }


async def _drained(kind: str, counters: Any) -> None:
    """Wait until the worker has worked off its backlog (every bounded queue can hold `tick_queue`
    ticks per product): nothing new for a second and, for the plug-in, every received tick through
    `on_tick`. A backlog that stops moving for 10 s fails the run."""
    last, quiet, stalled = (-1, -1), 0, 0
    while stalled < 100:
        await asyncio.sleep(0.1)
        now = counters()
        settled = now[1] == now[0] if kind == "plugin" else True
        quiet = quiet + 1 if now == last and settled else 0
        if quiet >= 10:
            return
        stalled = stalled + 1 if now == last else 0
        last = now
    raise BenchFailed(f"{kind}: the worker stopped at {last[0]} ticks received, {last[1]} updates")


# ---- the bare loop ----
def _bare(kind: str, n: int, ticks: int) -> float:
    """Ticks/s through the same strategies on the same runtime, inputs built beforehand."""
    from services.strategy.build import build_engine, strategy_for
    from services.strategy.config import StrategySettings
    from shared.sdk.api import Tick
    from shared.strategies import Quote

    settings = StrategySettings()
    specs, code = _specs(kind, n)
    source = code.source if code is not None else None
    runners: list[Any] = []
    for spec in specs:
        infos = {p: _info(p) for p in spec.products}
        engine, _ = build_engine(spec, infos, settings, None, strategy=strategy_for(spec, source=source))
        runners.append(engine.runner)  # type: ignore[attr-defined]
    rng = random.Random(7)
    rounds = -(-ticks // (n * (2 if kind == "pairs" else 1)))
    t0 = time.time_ns()
    if kind == "pairs":
        paths: list[list[tuple[Quote, Quote]]] = []
        for _ in range(n):
            prices = [100.0 + rng.random(), 100.0 + rng.random()]
            legs = [Quote(price=Decimal(f"{p:.2f}"), ts_ns=t0) for p in prices]
            path = []
            for k in range(rounds * 2):  # legs alternate, as the publisher's round robin does
                leg = k % 2
                prices[leg] = _walk(rng, prices[leg])
                legs[leg] = Quote(price=Decimal(f"{prices[leg]:.2f}"), ts_ns=t0 + k * TICK_STEP_NS)
                path.append((legs[0], legs[1]))
            paths.append(path)
        started = time.perf_counter()
        for k in range(rounds * 2):
            for runner, path in zip(runners, paths, strict=True):
                q1, q2 = path[k]
                runner.on_tick(t0 + k * TICK_STEP_NS, q1, q2)
        return n * rounds * 2 / (time.perf_counter() - started)
    tick_paths: list[list[Tick]] = []
    for runner in runners:
        runner.start(t0)
        price, path_ticks, product = 100.0 + rng.random(), [], runner.products[0]
        for k in range(rounds):
            price = _walk(rng, price)
            mid = Decimal(f"{price:.2f}")
            path_ticks.append(
                Tick(
                    product_id=product,
                    bid=mid - Decimal("0.01"),
                    ask=mid + Decimal("0.01"),
                    last=mid,
                    ts_ns=t0 + k * TICK_STEP_NS,
                )
            )
        tick_paths.append(path_ticks)
    started = time.perf_counter()
    for k in range(rounds):
        for runner, path_ticks in zip(runners, tick_paths, strict=True):
            runner.on_tick(path_ticks[k])
    return n * rounds / (time.perf_counter() - started)


def main() -> int:
    """Print worker vs bare ticks/s per kind with 100 instances, and the ratio; 1 when it failed."""
    import uvloop

    from shared.natsserver import NatsServer
    from shared.telemetry import configure_logging

    configure_logging("strategy-bench", "warning")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=INSTANCES)
    parser.add_argument("--seconds", type=float, default=DURATION_S)
    parser.add_argument("--kind", choices=(*KINDS, "all"), default="all")
    args, _ = parser.parse_known_args()
    kinds = KINDS if args.kind == "all" else (args.kind,)
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
                if not (svc["received_per_s"] > 0 and bare > 0):
                    raise BenchFailed(f"{kind}: measured nothing ({svc}, bare {bare:.0f}/s)")
                print(
                    f"{kind:>6} {args.instances:>5} {svc['offered_per_s']:>10.0f} {svc['received_per_s']:>10.0f} "
                    f"{svc['updates_per_s']:>10.0f} {svc['dropped']:>8.0f} {bare:>10.0f} "
                    f"{svc['received_per_s'] / bare:>10.2f}x",
                    flush=True,
                )
            print("goal: ≥ 20,000 ticks/s per worker for pairs and plugin (worker/s column)")
        except BenchFailed as exc:
            print(f"FAILED: {exc}", flush=True)
            return 1
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
