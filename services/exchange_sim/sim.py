"""`ExchangeSim`: start/stop the REST (TLS) and WS servers, the price source and heartbeats; write the
start-contract files (ca.pem, cdp_api_key.json, endpoints.json, sim.json) into the run directory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import generate_latest

from services.exchange_sim import tls
from services.exchange_sim.config import SimConfig
from services.exchange_sim.control import CONTROL_PREFIX, SimControl
from services.exchange_sim.feed import PriceFeed
from services.exchange_sim.rest import build_app
from services.exchange_sim.state import SimState
from services.exchange_sim.ws import WsHub
from shared.money import to_decimal
from shared.tasks import cancel_and_wait
from shared.venue import FeeRates, Venue, default_products, fee_rates

log = structlog.get_logger()


def _fees(cfg: SimConfig) -> FeeRates:
    return fee_rates(
        spot=("Intro 1", cfg.spot_maker_fee, cfg.spot_taker_fee),
        futures=("Futures Intro", cfg.futures_maker_fee, cfg.futures_taker_fee),
    )


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write-then-rename, so a process polling for the file never reads half of it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


class ExchangeSim:
    """A running simulator. Use as `async with ExchangeSim(cfg) as sim:` or `await start()/stop()`."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.creds = tls.load_or_generate(self.run_dir, [self.public_host])
        venue = Venue(
            default_products(time.time_ns()),
            fees=_fees(config),
            seed=config.seed,
            duplicate_mode="reject" if config.duplicate_mode == "reject" else "return",
        )
        for currency, amount in config.balances.items():
            venue.account(config.account_id).set_balance(currency, to_decimal(amount, field=currency))
        self.state = SimState(config, self.creds, venue)
        self.hub = WsHub(self.state)
        self.feed = PriceFeed(self.state)
        self.control = SimControl(self.state, self.hub, self.feed)
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.rest_port = 0
        self.ws_port = 0
        self.http_port: int | None = None

    @property
    def public_host(self) -> str:
        """The host clients dial: `advertise_host`, else the bind host (wildcards → 127.0.0.1)."""
        cfg = self.config
        if cfg.advertise_host:
            return cfg.advertise_host
        return "127.0.0.1" if cfg.host in ("0.0.0.0", "::", "") else cfg.host  # noqa: S104 - a comparison

    @property
    def venue(self) -> Venue:
        """The venue core (read it in tests; mutate through `control`)."""
        return self.state.venue

    @property
    def rest_host(self) -> str:
        """`127.0.0.1:PORT`: what `RESTClient(base_url=...)` takes."""
        return f"{self.public_host}:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        """Market-data WS URL (`WSClient(base_url=...)`)."""
        return f"ws://{self.public_host}:{self.ws_port}"

    @property
    def ws_user_url(self) -> str:
        """User-order WS URL (`WSUserClient(base_url=...)`)."""
        return f"{self.ws_url}/user"

    @property
    def control_url(self) -> str:
        """Base URL of the control API (same TLS server, no auth)."""
        return f"https://{self.rest_host}{CONTROL_PREFIX}"

    @property
    def ca_path(self) -> str:
        """The CA certificate clients must trust."""
        return str(self.creds.ca_path)

    @property
    def key_name(self) -> str:
        """The API key name (`organizations/.../apiKeys/...`)."""
        return self.creds.key_name

    @property
    def private_key_pem(self) -> str:
        """The API key's EC private key (SEC1 PEM)."""
        return self.creds.private_key_pem

    @property
    def key_file(self) -> str:
        """Path of the CDP-shaped key file."""
        return str(self.creds.api_key_path)

    async def start(self) -> None:
        """Listen, start background tasks, write the start-contract files."""
        cfg = self.config
        rest = web.AppRunner(build_app(self.state, self.control), shutdown_timeout=1.0, access_log=None)
        await rest.setup()
        await web.TCPSite(rest, cfg.host, cfg.port, ssl_context=self.creds.server_ssl_context()).start()
        self._runners.append(rest)
        self.rest_port = rest.addresses[0][1]
        ws_app = web.Application()
        ws_app.add_routes([web.get("/", self.hub.handle), web.get("/user", self.hub.handle)])
        ws = web.AppRunner(ws_app, shutdown_timeout=1.0, access_log=None)
        await ws.setup()
        await web.TCPSite(ws, cfg.host, cfg.ws_port).start()
        self._runners.append(ws)
        self.ws_port = ws.addresses[0][1]
        if cfg.http_port is not None:
            probes = web.AppRunner(self._probe_app(), shutdown_timeout=1.0, access_log=None)
            await probes.setup()
            await web.TCPSite(probes, cfg.host, cfg.http_port).start()
            self._runners.append(probes)
            self.http_port = probes.addresses[0][1]
        self._tasks.append(asyncio.create_task(self.hub.heartbeat_loop()))
        self._tasks.append(asyncio.create_task(self.feed.run()))  # without the feed it only expires GTDs
        self._write_contract()
        log.info("exchange_sim.started", rest=self.rest_host, ws=self.ws_url)

    def _probe_app(self) -> web.Application:
        """Plain-HTTP `/health`, `/ready`, `/metrics`, like every other service's HTTP port."""

        async def health(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok", "service": "exchange-sim"})

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(body=generate_latest(), content_type="text/plain")

        app = web.Application()
        app.add_routes([web.get("/health", health), web.get("/ready", health), web.get("/metrics", metrics)])
        return app

    def _write_contract(self) -> None:
        endpoints = {
            "rest": self.rest_host,
            "ws": self.ws_url,
            "ws_user": self.ws_user_url,
            "control": self.control_url,
        }
        _write_atomic(self.run_dir / "endpoints.json", endpoints)
        info: dict[str, Any] = {
            **endpoints,
            "rest_host": self.rest_host,
            "ws_url": self.ws_url,
            "ws_user_url": self.ws_user_url,
            "rest_port": self.rest_port,
            "http_port": self.http_port,
            "ws_port": self.ws_port,
            "ca_path": self.ca_path,
            "key_file": self.key_file,
            "key_name": self.key_name,
            "health": f"https://{self.rest_host}/health",
        }
        _write_atomic(self.run_dir / "sim.json", info)

    async def stop(self) -> None:
        """Close WS clients with 1001 (going away), stop tasks and servers."""
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        for conn in list(self.hub.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"simulator stopping")
        for runner in reversed(self._runners):
            # A TLS close waits for the client's close_notify, which an idle pooled client never sends:
            # abort what the graceful cleanup left, or the socket outlives the loop (and on 3.13 its
            # collection after the server closed raises in asyncio.Server._wakeup).
            left = [conn.transport for conn in runner.server.connections] if runner.server else []
            await runner.cleanup()
            for transport in left:
                if transport is not None:
                    transport.abort()
        await asyncio.sleep(0)  # let the aborts close their sockets
        self._runners.clear()
        log.info("exchange_sim.stopped")

    async def __aenter__(self) -> ExchangeSim:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
