"""Test session fixtures: one real nats-server per test run, on a free port, stopped by PID."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared import streams
from shared.bus import Bus
from shared.config import NatsSettings
from shared.natsserver import NatsServer


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JetStream-enabled nats-server shared by the whole test session."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def nats_settings(nats_url: str) -> NatsSettings:
    """Settings pointing at the session's server."""
    return NatsSettings(url=nats_url, connect_timeout_s=2.0)


@pytest.fixture
async def bus(nats_settings: NatsSettings) -> AsyncIterator[Bus]:
    """A connected, provisioned bus; drained after the test."""
    connected = await Bus.connect(nats_settings, service="test")
    await streams.provision(connected.js)
    yield connected
    await connected.close()


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own, for tests that stop or kill it."""
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()
