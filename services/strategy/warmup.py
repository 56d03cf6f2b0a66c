"""What an instance needs before it can trade: the products' trading rules and (optionally)
candle history to warm its signal core.

Candle warm-up is best effort: if the market-data service does not answer within
`warmup_timeout_s`, the instance warms up from live ticks and says so in the log. It runs only
when no warm snapshot could be restored, and asks for what the strategy's `data()` declares (MA:
candles of its bar interval; pairs: one-minute closes of both legs, a coarser series than its
ticks but a far better start than an empty window).
"""

from __future__ import annotations

import time

import nats.errors
import structlog

from shared import subjects
from shared.bus import Bus
from shared.messages import FeeRates, ProductInfo
from shared.messages.market import Candle, CandleReply, CandleRequest
from shared.messages.strategy import StrategySpec
from shared.sdk.api import Data

_log = structlog.get_logger("strategy.warmup")
_GRANULARITIES = (60, 300, 900, 1800, 3600, 7200, 21600, 86400)


async def load_products(bus: Bus, spec: StrategySpec) -> tuple[dict[str, ProductInfo], list[str]]:
    """Trading rules of every product of `spec` from KV `products`, and the ones still missing.
    They are read under the order venue: the execution that fills the orders publishes them."""
    kv = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)
    found: dict[str, ProductInfo] = {}
    missing: list[str] = []
    for product in spec.products:
        entry = await kv.get(subjects.product_key(spec.order_venue, product))
        if entry is None:
            missing.append(product)
        else:
            found[product] = entry.value
    return found, missing


async def load_fee_rates(bus: Bus, venue: str) -> FeeRates | None:
    """The fee tier of an execution venue (a spec's `order_venue`) from KV `fee_rates`, or None
    while that execution has not written it."""
    kv = await bus.kv(subjects.KV_FEE_RATES, FeeRates)
    entry = await kv.get(subjects.token(venue))
    return entry.value if entry is not None else None


def warmup_plan(data: Data) -> tuple[int, int] | None:
    """(granularity_s, bars) of history a strategy asked for in `data()`, or None: it asked for
    none, or its interval is not a venue granularity (it then warms up from live ticks)."""
    if data.warmup_bars <= 0:
        return None
    interval = data.warmup_interval_s or data.bars_s or 60
    if interval not in _GRANULARITIES:
        return None
    return interval, data.warmup_bars


async def fetch_history(
    bus: Bus, spec: StrategySpec, data: Data, timeout_s: float
) -> dict[str, list[Candle]]:
    """Closed candles of every product per the plan; {} when there is no plan or no answer."""
    plan = warmup_plan(data)
    if plan is None or timeout_s <= 0:
        return {}
    granularity, bars = plan
    end = int(time.time()) // granularity * granularity
    start = end - granularity * bars
    out: dict[str, list[Candle]] = {}
    for product in spec.products:
        request = CandleRequest(
            venue=spec.venue, product_id=product, start=start, end=end, granularity_s=granularity
        )
        try:
            reply = await bus.request(
                subjects.candles_rpc(spec.venue), request, CandleReply, timeout=timeout_s
            )
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError):
            _log.info("warmup_from_live_ticks", strategy_id=spec.id, reason="no candle responder")
            return {}
        if reply.error:
            _log.info("warmup_from_live_ticks", strategy_id=spec.id, reason=reply.error)
            return {}
        out[product] = list(reply.candles)
    return out
