"""The venue's catalogue on the bus: trading rules per product (KV `products`) and the account's fee
tier (KV `fee_rates`), written at start and every `products_refresh_s`. Risk checks the grid with
the first, strategies price their trades with the second."""

from __future__ import annotations

import structlog

from services.execution.adapter import ExecutionAdapter
from shared import subjects
from shared.bus import Bus
from shared.errors import VenueError
from shared.messages import FeeRates, ProductInfo

_log = structlog.get_logger("execution")


async def publish_products(bus: Bus, adapter: ExecutionAdapter, venue: str) -> list[ProductInfo]:
    """Write the venue's trading rules to KV `products` (key `<venue>.<product_id>`), then its fees."""
    products = await adapter.products()
    kv = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)
    for product in products:
        try:
            key = subjects.product_key(venue, product.product_id)
        except ValueError:
            continue
        await kv.put(key, product)
    _log.info("products_published", count=len(products))
    await publish_fee_rates(bus, adapter, venue)
    return products


async def publish_fee_rates(bus: Bus, adapter: ExecutionAdapter, venue: str) -> None:
    """Write the account's fee tier to KV `fee_rates` (key: the venue). A venue that cannot say
    leaves the last stored tier in place, and strategies keep pricing with it."""
    try:
        rates = await adapter.fee_rates()
    except VenueError as exc:
        _log.warning("fee_rates_unavailable", error=str(exc))
        return
    kv = await bus.kv(subjects.KV_FEE_RATES, FeeRates)
    await kv.put(subjects.token(venue), rates)
    _log.info(
        "fee_rates_published",
        pricing_tier=rates.pricing_tier,
        spot_taker=str(rates.spot_taker),
        futures_taker=str(rates.futures_taker),
    )
