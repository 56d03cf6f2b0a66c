"""Fixtures: a harness per adapter (paper on the bus, live against the in-process simulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.exchange_sim import ExchangeSim
from shared.bus import Bus

from .harness import Harness, LiveHarness, PaperHarness, sim_config


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


@pytest.fixture(params=["paper", "live"])
def harness(request: pytest.FixtureRequest) -> Harness:
    """The contract suite runs once per adapter."""
    result: Harness = request.getfixturevalue(request.param)
    return result
