"""Market data: decode + normalize + publish throughput vs a raw msgspec JSON decode loop, same run.

The recorded messages are Coinbase WS frames: a ticker stream (shaped like Coinbase's documented ticker
example, prices and sequence numbers varying) and a mixed stream from the synthetic market (level2
updates, trades, tickers, heartbeats). The pipeline is the service's real `on_frame` path — decode
into typed Structs, sequence check, Decimal checks, book maintenance, msgpack encode and a NATS
publish to a real nats-server started here — against `msgspec.json.decode` of the same bytes.
Reported: msgs/s of both, their ratio, and p50/p99 from a frame's arrival to the return of its
NATS publish. Never pass/fail; on a loaded 2-core machine read the ratio, not the absolute rates.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from decimal import Decimal

import msgspec
import uvloop

from services.marketdata.config import MarketDataSettings
from services.marketdata.service import MarketDataService
from services.marketdata.synthetic import SyntheticMarket
from shared.bus import Bus
from shared.config import NatsSettings
from shared.natsserver import NatsServer
from shared.timefmt import format_rfc3339

TICKER_FRAMES = 50_000
MIXED_FRAMES = 20_000
RUNS = 3
PRODUCTS = ("BTC-USD", "ETH-USD")

_TICKER = (
    '{{"channel":"ticker","client_id":"","timestamp":"{ts}","sequence_num":{seq},"events":[{{"type":"update",'
    '"tickers":[{{"type":"ticker","product_id":"{pid}","price":"{price}","volume_24_h":"16038.28770938",'
    '"low_24_h":"21835.29","high_24_h":"23011.18","low_52_w":"15460","high_52_w":"48240",'
    '"price_percent_chg_24_h":"-4.15775596190603","best_bid":"{bid}","best_bid_quantity":"8000.21",'
    '"best_ask":"{ask}","best_ask_quantity":"8038.07770938"}}]}}]}}'
)


def ticker_frames(count: int) -> list[bytes]:
    """A recorded-looking ticker stream: one ticker per frame, alternating products."""
    start = time.time_ns()
    frames = []
    for seq in range(count):
        cents = 2_193_298 + (seq * 7919) % 5000
        price = Decimal(cents) / 100
        frames.append(
            _TICKER.format(
                ts=format_rfc3339(start + seq * 1_000_000),
                seq=seq,
                pid=PRODUCTS[seq % 2],
                price=price,
                bid=price - Decimal("0.01"),
                ask=price + Decimal("0.01"),
            ).encode()
        )
    return frames


def mixed_frames(count: int) -> list[bytes]:
    """The synthetic market's frames: a snapshot per product, then level2 updates, trades, tickers."""
    market = SyntheticMarket(PRODUCTS, seed=7, start_price=Decimal(60000))
    now = time.time_ns()
    frames = market.connect(now)
    step = 0
    while len(frames) < count:
        step += 1
        frames += market.step(now + step * 100_000_000)
        if step % 10 == 0:
            frames.append(market.heartbeat(now + step * 100_000_000))
    return frames[:count]


def raw_decode_seconds(frames: list[bytes]) -> float:
    """The baseline: a generic msgspec JSON decode of every frame, nothing else."""
    decode = msgspec.json.decode
    started = time.perf_counter()
    for frame in frames:
        decode(frame)
    return time.perf_counter() - started


async def pipeline(frames: list[bytes], bus: Bus) -> tuple[float, list[int]]:
    """(seconds, per-frame arrival→publish ns) through the service's `on_frame`."""
    settings = MarketDataSettings(products=PRODUCTS)
    service = MarketDataService(settings, credentials_from_environment=False)
    service.attach(bus)
    service.on_connected()
    latencies: list[int] = []
    clock = time.perf_counter_ns
    wall = time.time_ns
    started = time.perf_counter()
    for frame in frames:
        arrival = clock()
        await service.on_frame(frame, wall())
        latencies.append(clock() - arrival)
    await bus.nc.flush()
    seconds = time.perf_counter() - started
    assert service.health.malformed == 0
    assert service.health.gaps == 0
    return seconds, latencies


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


async def _run() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(scratch)
        url = server.start()
        try:
            bus = await Bus.connect(NatsSettings(url=url), service="marketdata-bench")
            try:
                for name, frames in (
                    ("ticker", ticker_frames(TICKER_FRAMES)),
                    ("mixed", mixed_frames(MIXED_FRAMES)),
                ):
                    await _report(name, frames, bus)
            finally:
                await bus.close()
        finally:
            server.stop()


async def _report(name: str, frames: list[bytes], bus: Bus) -> None:
    raw_rates, rates, latencies = [], [], []
    for _ in range(RUNS):
        raw_rates.append(len(frames) / raw_decode_seconds(frames))
        seconds, lat = await pipeline(frames, bus)
        rates.append(len(frames) / seconds)
        latencies = lat
    raw = statistics.median(raw_rates)
    ours = statistics.median(rates)
    size = statistics.mean(len(f) for f in frames)
    print(f"{name}: {len(frames)} frames, mean {size:.0f} B, median of {RUNS} runs")
    print(f"  raw msgspec.json.decode      {raw:>12,.0f} msgs/s")
    print(f"  decode+normalize+publish     {ours:>12,.0f} msgs/s")
    print(f"  ratio raw/pipeline           {raw / ours:>12.1f} x")
    print(f"  arrival->publish p50 / p99   {_pct(latencies, 0.5):>8.1f} / {_pct(latencies, 0.99):.1f} us")


def main() -> None:
    """Run both streams and print the comparison."""
    uvloop.run(_run())


if __name__ == "__main__":
    main()
