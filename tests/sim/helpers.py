"""Test helpers: a simulator on its own thread/loop (so the synchronous SDK can call it), polling."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from coinbase.rest import RESTClient
from websockets.sync.client import ClientConnection, connect

from services.exchange_sim import ExchangeSim, SimConfig

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Poll `check` until it returns something truthy; fail at the deadline (never sleep blindly)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class SimHandle:
    """A running simulator plus the clients tests use."""

    def __init__(self, config: SimConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="exchange-sim", daemon=True)
        self.thread.start()
        self.sim: ExchangeSim = self.run(self._make(config))
        self.run(self.sim.start())
        self.info = json.loads((Path(config.run_dir) / "sim.json").read_text())

    async def _make(self, config: SimConfig) -> ExchangeSim:
        return ExchangeSim(config)

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the simulator's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the simulator's loop (safe reads of venue state)."""

        async def call() -> T:
            return fn()

        return self.run(call())  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def rest(self, **kwargs: Any) -> RESTClient:
        """The real SDK client, trusting only the run's CA."""
        client = RESTClient(
            api_key=self.sim.key_name,
            api_secret=self.sim.private_key_pem,
            base_url=self.sim.rest_host,
            **kwargs,
        )
        client.session.trust_env = False
        client.session.verify = self.sim.ca_path
        return client

    def control(self, action: str, **body: Any) -> None:
        """Call the HTTP control API (`POST /_sim/<action>`)."""
        with requests.Session() as session:
            session.trust_env = False
            resp = session.post(
                f"{self.sim.control_url}/{action}", json=body, verify=self.sim.ca_path, timeout=5
            )
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"ok": True}

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A plain HTTPS request to the sim (no SDK)."""
        with requests.Session() as session:
            session.trust_env = False
            return session.request(
                method, f"https://{self.sim.rest_host}{path}", verify=self.sim.ca_path, timeout=5, **kwargs
            )

    def ws(self, path: str = "", max_size: int | None = 10 * 1024 * 1024) -> ClientConnection:
        """A plain `websockets` 13.1 sync client connection."""
        # websockets 13 sync buffers one message: with unread frames a close handshake waits close_timeout.
        return connect(f"{self.sim.ws_url}{path}", max_size=max_size, open_timeout=5, close_timeout=0.1)


def recv_json(conn: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    """Next message as JSON."""
    return json.loads(conn.recv(timeout=timeout))  # type: ignore[no-any-return]


def recv_until(
    conn: ClientConnection, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    """Receive until a message matches (bounded by a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching message before the deadline")
        msg = recv_json(conn, remaining)
        if pred(msg):
            return msg


def sim_config(run_dir: Path, **overrides: Any) -> SimConfig:
    base: dict[str, Any] = {
        "run_dir": str(run_dir),
        "seed": 1,
        "feed_interval_s": 0.1,
        "heartbeat_interval_s": 0.2,
        "subscribe_timeout_s": 1.0,
        "balances": {"USD": "100000", "BTC": "2"},
    }
    base.update(overrides)
    return SimConfig(**base)
