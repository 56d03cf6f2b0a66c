"""How CLI commands reach the running stack: over NATS, never by an in-process shortcut."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from services.cli.exits import error_exit
from shared import streams
from shared.bus import Bus
from shared.config import NatsSettings
from shared.errors import BusUnavailableError

DEFAULT_URL = "nats://127.0.0.1:4222"


def _stack_file(data_dir: Path) -> dict[str, str]:
    try:
        return dict(json.loads((data_dir / "stack.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError, ValueError):
        return {}


def stack_nats_url(data_dir: Path = Path("data")) -> str:
    """`NATS_URL`, else the URL `algopioneer up` recorded in `data/stack.json`, else the default."""
    return os.environ.get("NATS_URL") or _stack_file(data_dir).get("nats_url") or DEFAULT_URL


def stack_credentials(data_dir: Path = Path("data")) -> tuple[str, str]:
    """The CLI's NATS user: `ALGOPIONEER_NATS__USER`/`__PASSWORD`, else what `up` recorded, else none."""
    if os.environ.get("ALGOPIONEER_NATS__USER"):
        return os.environ["ALGOPIONEER_NATS__USER"], os.environ.get("ALGOPIONEER_NATS__PASSWORD", "")
    if os.environ.get("NATS_URL"):
        return "", ""  # an explicit server: its credentials come from the environment, or none
    stack = _stack_file(data_dir)
    return stack.get("nats_user", ""), stack.get("nats_password", "")


@asynccontextmanager
async def connect(url: str | None = None, credentials: tuple[str, str] | None = None) -> AsyncIterator[Bus]:
    """A bus connection for one command; a stack that is not running is a one-line error."""
    target = url or stack_nats_url()
    user, password = credentials or stack_credentials()
    try:
        bus = await Bus.connect(
            NatsSettings(
                url=target, user=user, password=password, connect_timeout_s=1.0, max_reconnect_attempts=0
            ),
            service="cli",
        )
    except BusUnavailableError as exc:
        raise error_exit(f"{exc}. Is the stack running? Start it with `make run`.", 3) from None
    try:
        await streams.provision(bus.js)  # idempotent; lets commands run before any service started
        yield bus
    finally:
        await bus.close()
