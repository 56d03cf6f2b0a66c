"""Fixtures: the exchange simulator in-process, and the market-data service on the real bus against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from services.exchange_sim import ExchangeSim, SimConfig
from services.marketdata.config import MarketDataSettings
from services.marketdata.service import MarketDataService
from shared.bus import Bus
from shared.config import CoinbaseCredentials, NatsSettings, VenueSettings
from shared.runtime import ServiceContext

PRODUCTS = ("BTC-USD", "ETH-USD")
StartFeed = Callable[..., Awaitable[MarketDataService]]


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[ExchangeSim]:
    """A fresh simulator per test (faults never leak), ticking fast so tests see traffic quickly."""
    async with ExchangeSim(SimConfig(run_dir=str(tmp_path / "sim"), feed_interval_s=0.1)) as running:
        yield running


def feed_settings(sim: ExchangeSim, nats_url: str, **overrides: Any) -> MarketDataSettings:
    """Settings pointing at the simulator, with timeouts short enough for tests."""
    values: dict[str, Any] = {
        "nats": NatsSettings(url=nats_url),
        "venue": VenueSettings(rest_host=sim.rest_host, ws_url=sim.ws_url, ca_file=sim.ca_path),
        "products": PRODUCTS,
        "heartbeat_timeout_s": 2.0,
        "stale_after_s": 1.5,
        "reconnect_base_s": 0.1,
        "reconnect_max_s": 1.0,
        "status_interval_s": 0.5,
        "resync_timeout_s": 3.0,
    }
    values.update(overrides)
    return MarketDataSettings(**values)


@pytest.fixture
async def start_feed(sim: ExchangeSim, bus: Bus, nats_url: str) -> AsyncIterator[StartFeed]:
    """Start the service in-process (so tests can look at its books); stopped after the test."""
    started: list[MarketDataService] = []

    async def start(*, authenticated: bool = True, **overrides: Any) -> MarketDataService:
        settings = feed_settings(sim, nats_url, **overrides)
        creds = CoinbaseCredentials(sim.key_name, sim.private_key_pem) if authenticated else None
        service = MarketDataService(settings, credentials=creds, credentials_from_environment=False)
        await service.start(ServiceContext("marketdata", settings, bus))
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()
