"""Fixtures: a harness per adapter (paper on the bus, live against the in-process simulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.exchange_sim import ExchangeSim
from shared import streams
from shared.bus import Bus
from shared.config import NatsSettings
from shared.natsserver import NatsServer

from .helpers import Harness, LiveHarness, PaperHarness, sim_config


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[ExchangeSim]:
    """A fresh simulator per test so faults and orders never leak between tests."""
    async with ExchangeSim(sim_config(tmp_path / "sim")) as running:
        yield running


@pytest.fixture
async def live(bus: Bus, nats_url: str, sim: ExchangeSim) -> AsyncIterator[LiveHarness]:
    harness = LiveHarness(bus, nats_url, sim)
    yield harness
    await harness.stop()


@pytest.fixture
async def paper(bus: Bus, nats_url: str) -> AsyncIterator[PaperHarness]:
    harness = PaperHarness(bus, nats_url)
    yield harness
    await harness.stop()


@pytest.fixture
async def own_bus(private_nats: NatsServer) -> AsyncIterator[Bus]:
    """A bus on a server of the test's own: risk's epoch in KV `risk_state` is one global key, and a
    halt written there must not fence off the orders of every later test."""
    connected = await Bus.connect(NatsSettings(url=private_nats.url), service="test")
    await streams.provision(connected.js)
    yield connected
    await connected.close()


@pytest.fixture
async def own_paper(own_bus: Bus, private_nats: NatsServer) -> AsyncIterator[PaperHarness]:
    """A paper harness on the test's own server."""
    harness = PaperHarness(own_bus, private_nats.url)
    yield harness
    await harness.stop()


@pytest.fixture(params=["paper", "live"])
def harness(request: pytest.FixtureRequest) -> Harness:
    """The contract suite runs once per adapter."""
    result: Harness = request.getfixturevalue(request.param)
    return result
