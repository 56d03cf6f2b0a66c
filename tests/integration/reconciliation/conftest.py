"""Fixtures: a fresh simulator per test (no price feed: books are scripted) and the stack around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.exchange_sim import ExchangeSim, SimConfig
from shared.bus import Bus

from .helpers import BALANCES, Stack


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[ExchangeSim]:
    async with ExchangeSim(
        SimConfig(run_dir=str(tmp_path / "sim"), feed_enabled=False, balances=BALANCES)
    ) as running:
        yield running


@pytest.fixture
async def stack(bus: Bus, nats_url: str, sim: ExchangeSim) -> AsyncIterator[Stack]:
    running = Stack(bus, nats_url, sim)
    yield running
    await running.stop()
