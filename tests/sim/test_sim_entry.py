"""The two ways to start the simulator: in-process (`async with`) and as a process (`-m`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import aiohttp
import requests
from coinbase.rest import RESTClient

from services.exchange_sim import ExchangeSim

from .helpers import eventually, sim_config


async def test_in_process_async_api(tmp_path: Path) -> None:
    async with ExchangeSim(sim_config(tmp_path, feed_enabled=False)) as sim:
        assert sim.rest_host.startswith("127.0.0.1:")
        assert sim.ws_url.startswith("ws://127.0.0.1:")
        key = json.loads(Path(sim.key_file).read_text())
        assert key["name"] == sim.key_name
        assert key["privateKey"].startswith("-----BEGIN EC PRIVATE KEY-----")
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        assert set(endpoints) == {"rest", "ws", "ws_user", "control"}
        ctx = ssl.create_default_context(cafile=sim.ca_path)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"https://{sim.rest_host}/health", ssl=ctx) as resp,
        ):
            assert await resp.json() == {"status": "ok"}
        sim.control.push_book("BTC-USD", bids=[], asks=[(Decimal("50000"), Decimal("1"))])

        def place() -> str:
            client = RESTClient(api_key=sim.key_name, api_secret=sim.private_key_pem, base_url=sim.rest_host)
            client.session.trust_env = False
            client.session.verify = sim.ca_path
            resp = client.market_order_buy(
                client_order_id=uuid.uuid4().hex, product_id="BTC-USD", base_size="0.01"
            )
            return str(client.get_order(resp.success_response["order_id"]).order.status)

        assert await asyncio.to_thread(place) == "FILLED"
        assert sim.venue.fills[-1].price == 50000


def test_runs_as_a_process_and_writes_sim_json(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.exchange_sim",
            "--run-dir",
            str(tmp_path),
            "--port",
            "0",
            "--ws-port",
            "0",
            "--seed",
            "1",
            "--http-port",
            "0",
            "--advertise-host",
            "localhost",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        info_path = tmp_path / "sim.json"
        eventually(info_path.exists, timeout=15)
        info = json.loads(info_path.read_text())
        assert Path(info["ca_path"]).exists()
        assert Path(info["key_file"]).exists()
        assert info["rest_host"] == info["rest"]
        assert info["rest_host"].startswith("localhost:")  # the advertised name, in the certificate too
        assert info["ws_url"].startswith("ws://localhost:")
        client = RESTClient(key_file=info["key_file"], base_url=info["rest_host"])
        client.session.trust_env = False
        client.session.verify = info["ca_path"]
        assert client.get_product("BTC-USD").product_id == "BTC-USD"
        probe = requests.get(f"http://127.0.0.1:{info['http_port']}/health", timeout=5)
        assert probe.json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
