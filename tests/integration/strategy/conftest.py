"""Fixtures: strategy workers in-process, each on a bus connection of its own (so one can die)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from services.strategy.service import StrategyService
from services.strategy.specs import delete_spec, list_specs
from shared.bus import Bus
from shared.config import NatsSettings
from shared.runtime import ServiceContext
from tests.integration.strategy.helpers import fast_settings

StartWorker = Callable[..., Awaitable[StrategyService]]


@pytest.fixture(autouse=True)
async def no_leftover_specs(bus: Bus) -> AsyncIterator[None]:
    """Specs live in the session's KV bucket: each test starts and ends with none."""

    async def purge() -> None:
        for sid in await list_specs(bus):
            await delete_spec(bus, sid)

    await purge()
    yield
    await purge()


@pytest.fixture
async def start_worker(nats_url: str) -> AsyncIterator[StartWorker]:
    """Start workers; each is stopped cleanly after the test unless the test killed it."""
    running: list[tuple[StrategyService, Bus]] = []

    async def start(worker_id: str, **overrides: Any) -> StrategyService:
        settings = fast_settings(nats_url, worker_id, **overrides)
        bus = await Bus.connect(NatsSettings(url=nats_url), service=f"strategy-{worker_id}")
        service = StrategyService(settings)
        await service.start(ServiceContext("strategy", settings, bus))
        running.append((service, bus))
        return service

    yield start
    for service, bus in running:
        if not bus.nc.is_closed:
            await service.stop()
            await bus.close()
