"""How CLI commands reach the running stack: over NATS, never by an in-process shortcut."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import typer

from shared import streams
from shared.bus import Bus
from shared.config import NatsSettings
from shared.errors import BusUnavailableError

DEFAULT_URL = "nats://127.0.0.1:4222"


def stack_nats_url(data_dir: Path = Path("data")) -> str:
    """`NATS_URL`, else the URL `algopioneer up` recorded in `data/stack.json`, else the default."""
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    stack_file = data_dir / "stack.json"
    if stack_file.exists():
        try:
            return str(json.loads(stack_file.read_text())["nats_url"])
        except (json.JSONDecodeError, KeyError):
            pass
    return DEFAULT_URL


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@asynccontextmanager
async def connect(url: str | None = None) -> AsyncIterator[Bus]:
    """A bus connection for one command; a stack that is not running is a one-line error."""
    target = url or stack_nats_url()
    try:
        bus = await Bus.connect(
            NatsSettings(url=target, connect_timeout_s=1.0, max_reconnect_attempts=0), service="cli"
        )
    except BusUnavailableError as exc:
        raise fail(f"{exc}. Is the stack running? Start it with `make run`.", 3) from None
    try:
        await streams.provision(bus.js)  # idempotent; lets commands run before any service started
        yield bus
    finally:
        await bus.close()
