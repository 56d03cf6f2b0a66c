"""Candle history over NATS request/reply, served from the simulator's REST API through the SDK."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from services.exchange_sim import ExchangeSim
from shared import subjects
from shared.bus import Bus
from shared.messages import CandleReply, CandleRequest, Side

from .conftest import StartFeed

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("authenticated", [True, False], ids=["private", "public"])
async def test_candles_are_paged_sorted_and_deduplicated(
    sim: ExchangeSim, start_feed: StartFeed, bus: Bus, authenticated: bool
) -> None:
    await start_feed(authenticated=authenticated, candle_page_size=7)
    sim.control.push_trade("BTC-USD", Side.BUY, Decimal("0.01"))
    now = int(time.time())
    request = CandleRequest(venue="coinbase", product_id="BTC-USD", start=now - 3600, end=now + 120)

    reply = await bus.request(subjects.candles_rpc("coinbase"), request, CandleReply, timeout=10)
    assert reply.error == ""
    assert reply.candles  # the pushed trade is in the current minute's bucket at least
    starts = [c.start for c in reply.candles]
    assert starts == sorted(set(starts))
    assert all(request.start <= s < request.end and s % 60 == 0 for s in starts)
    assert all(c.low <= c.open <= c.high and c.volume > 0 for c in reply.candles)


async def test_a_bad_candle_request_gets_an_error_reply(start_feed: StartFeed, bus: Bus) -> None:
    await start_feed()
    request = CandleRequest(venue="coinbase", product_id="BTC-USD", start=100, end=50)
    reply = await bus.request(subjects.candles_rpc("coinbase"), request, CandleReply, timeout=5)
    assert reply.candles == ()
    assert "CandleRequestError" in reply.error
    odd = CandleRequest(venue="coinbase", product_id="BTC-USD", start=0, end=600, granularity_s=61)
    reply = await bus.request(subjects.candles_rpc("coinbase"), odd, CandleReply, timeout=5)
    assert "granularity_s" in reply.error


async def test_venue_5xx_is_retried_then_reported(sim: ExchangeSim, start_feed: StartFeed, bus: Bus) -> None:
    await start_feed(candle_retries=1)
    sim.control.fail_rest(503, count=5, path="/api/v3/brokerage/products")
    now = int(time.time())
    request = CandleRequest(venue="coinbase", product_id="BTC-USD", start=now - 600, end=now)
    reply = await bus.request(subjects.candles_rpc("coinbase"), request, CandleReply, timeout=10)
    assert "VenueUnavailableError" in reply.error
