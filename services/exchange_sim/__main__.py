"""`python -m services.exchange_sim --run-dir DIR [--host H] [--port 0] [--ws-port 0] [--seed N]`.

Runs until SIGINT/SIGTERM; once listening, `DIR/sim.json` and `DIR/endpoints.json` name the ports,
the CA and the key file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import structlog

from services.exchange_sim.config import SimConfig
from services.exchange_sim.sim import ExchangeSim

log = structlog.get_logger()


def parse_args(argv: list[str] | None = None) -> SimConfig:
    """Command-line flags → SimConfig."""
    parser = argparse.ArgumentParser(prog="exchange_sim", description="Coinbase Advanced Trade simulator")
    parser.add_argument("--run-dir", "--state-dir", dest="run_dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--advertise-host", default="", help="name clients dial (certificate + sim.json)")
    parser.add_argument(
        "--http-port",
        type=int,
        default=_env_port(),
        help="plain-HTTP /health, /ready, /metrics (default: ALGOPIONEER_HTTP__PORT)",
    )
    parser.add_argument("--port", "--rest-port", dest="port", type=int, default=0)
    parser.add_argument("--ws-port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data", dest="replay_file", default=None, help="CSV/Parquet: time, product_id, price"
    )
    parser.add_argument("--speed", dest="replay_speed", type=float, default=1.0)
    parser.add_argument("--no-feed", dest="feed_enabled", action="store_false")
    parser.add_argument("--duplicate-mode", choices=["return", "reject"], default="return")
    ns = parser.parse_args(argv)
    if ns.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("exchange_sim.non_loopback_bind", host=ns.host, advertise_host=ns.advertise_host)
    return SimConfig(**vars(ns))


def _env_port() -> int | None:
    """The service-wide HTTP port setting the launcher and deploy files pass to every service."""
    raw = os.environ.get("ALGOPIONEER_HTTP__PORT", "").strip()
    return int(raw) if raw.isdigit() else None


async def serve(config: SimConfig) -> None:
    """Run until a signal arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ExchangeSim(config):
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
