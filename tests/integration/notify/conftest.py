"""A nats-server running the generated permissions (so the service logs in as its read-only user),
provisioned by admin, and a local webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared import streams
from shared.natsserver import NatsServer

from .helpers import Recorded, Webhook

CONFIG = Path(__file__).resolve().parents[3] / "shared" / "nats" / "permissions.conf"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[str]:
    server = NatsServer(tmp_path / "nats", config_file=str(CONFIG))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def admin(secured: str) -> AsyncIterator[Recorded]:
    """Plays every other service: provisions, publishes fills, risk state, reports and heartbeats."""
    client = await Recorded.connect(secured, "admin")
    await streams.provision(client.bus.js)
    yield client
    await client.bus.close()


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = await Webhook().start()
    yield hook
    await hook.stop()
