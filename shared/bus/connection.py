"""Connecting to NATS and letting go of it: reconnect reporting, bounded drain and close."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import nats.errors
import structlog
from nats.aio.client import Client as NATS

from shared import metrics
from shared.config import NatsSettings
from shared.errors import BusUnavailableError
from shared.tasks import within

_log = structlog.get_logger("bus")


async def connect(settings: NatsSettings, *, service: str) -> NATS:
    """Connect with unlimited reconnects; raise `BusUnavailableError` (not a traceback) if absent."""

    async def on_disconnect() -> None:
        metrics.BUS_CONNECTED.set(0)
        _log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        metrics.BUS_CONNECTED.set(1)
        _log.info("nats_reconnected")

    async def on_error(exc: Exception) -> None:
        _log.warning("nats_error", error=str(exc), error_type=type(exc).__name__)

    options: dict[str, Any] = {
        "servers": [u.strip() for u in settings.url.split(",")],
        "name": service,
        "connect_timeout": settings.connect_timeout_s,
        "reconnect_time_wait": settings.reconnect_wait_s,
        "max_reconnect_attempts": settings.max_reconnect_attempts,
        "allow_reconnect": True,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
        "error_cb": on_error,
        "drain_timeout": 5,  # nats-py gives up draining by itself too (its default is 30 s)
    }
    if settings.user:
        options["user"] = settings.user
        options["password"] = settings.password
    if settings.creds_file:
        options["user_credentials"] = settings.creds_file
    try:
        nc = await asyncio.wait_for(nats.connect(**options), timeout=settings.connect_timeout_s * 2 + 1)
    except (OSError, TimeoutError, nats.errors.NoServersError, nats.errors.Error) as exc:
        why = str(exc) or f"no server answered within {settings.connect_timeout_s * 2 + 1:g}s"
        raise BusUnavailableError(f"cannot reach NATS at {settings.url}: {why}") from None
    metrics.BUS_CONNECTED.set(1)
    return nc


async def close(nc: NATS) -> None:
    """Drain subscriptions and publishes, then close; bounded however the server behaves."""
    if nc.is_closed:
        return
    # Never `wait_for` here: nats-py's drain() swallows the cancellation, and wait_for would
    # then wait for it forever. Whatever does not end in time is closed under it.
    if not await within(nc.drain(), 5):
        await within(nc.close(), 5)  # bounded too: a close mid-reconnect can hang
    metrics.BUS_CONNECTED.set(0)
