"""`python -m services.marketdata` as the launcher runs it: `/ready` follows the feed's health."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from services.exchange_sim import ExchangeSim
from shared import subjects
from shared.bus import Bus
from shared.messages import CandleReply, CandleRequest, Ticker
from shared.testing import eventually, free_port

from .helpers import Collector

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _environment(sim: ExchangeSim, nats_url: str, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_", "COINBASE_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        NATS_URL=nats_url,
        ALGOPIONEER_HTTP__PORT=str(port),
        ALGOPIONEER_VENUE__WS_URL=sim.ws_url,
        ALGOPIONEER_VENUE__REST_HOST=sim.rest_host,
        ALGOPIONEER_VENUE__CA_FILE=sim.ca_path,
        ALGOPIONEER_MARKETDATA__PRODUCTS="BTC-USD,ETH-USD",
        ALGOPIONEER_MARKETDATA__HEARTBEAT_TIMEOUT_S="2",
        ALGOPIONEER_MARKETDATA__STALE_AFTER_S="1.5",
        COINBASE_API_KEY=sim.key_name,
        COINBASE_API_SECRET=sim.private_key_pem,
    )
    return env


async def test_ready_is_false_while_the_feed_is_stale(sim: ExchangeSim, nats_url: str) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.marketdata",
        env=_environment(sim, nats_url, port),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    status = {"ready": 0}
    try:
        async with aiohttp.ClientSession() as http:
            poller = asyncio.create_task(_poll_ready(http, port, status))
            try:
                await eventually(lambda: status["ready"] == 200, timeout_s=15, what="ready with a live feed")
                sim.control.pause_heartbeats()
                await eventually(lambda: status["ready"] == 503, timeout_s=4, what="not ready while stale")
                async with http.get(f"http://127.0.0.1:{port}/ready") as response:
                    body = await response.json()
                assert body["checks"]["feed"] is False
                assert body["details"]["feed"]["stale"] is True
                sim.control.pause_heartbeats(False)
                await eventually(lambda: status["ready"] == 200, timeout_s=6, what="ready again")
            finally:
                poller.cancel()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            assert "md_messages_total" in text
            assert "md_frame_to_publish_seconds_bucket" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0, err.decode()


async def _poll_ready(http: aiohttp.ClientSession, port: int, status: dict[str, int]) -> None:
    """Keep `status["ready"]` at the latest `/ready` HTTP status (0 while unreachable)."""
    while True:
        try:
            async with http.get(f"http://127.0.0.1:{port}/ready") as response:
                status["ready"] = response.status
        except aiohttp.ClientError:
            status["ready"] = 0
        await asyncio.sleep(0.05)


async def test_the_synthetic_source_runs_the_service_without_any_exchange(nats_url: str, bus: Bus) -> None:
    tickers = await Collector[Ticker]().start(bus, subjects.ticker("coinbase", "BTC-USD"), Ticker)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_", "COINBASE_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        NATS_URL=nats_url,
        ALGOPIONEER_HTTP__PORT=str(port),
        ALGOPIONEER_MARKETDATA__SOURCE="synthetic",
        ALGOPIONEER_VENUE__WS_URL="ws://127.0.0.1:9",  # never dialled
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.marketdata", env=env, cwd=str(ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    status = {"ready": 0}
    try:
        async with aiohttp.ClientSession() as http:
            poller = asyncio.create_task(_poll_ready(http, port, status))
            try:
                await eventually(lambda: status["ready"] == 200, timeout_s=15, what="ready on synthetic data")
                await eventually(lambda: len(tickers) >= 3, what="synthetic ticks on the bus")
            finally:
                poller.cancel()
        now = int(time.time())
        request = CandleRequest(venue="coinbase", product_id="BTC-USD", start=now - 3600, end=now)
        reply = await bus.request(subjects.candles_rpc("coinbase"), request, CandleReply, timeout=5)
        assert len(reply.candles) == 60
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0, err.decode()
