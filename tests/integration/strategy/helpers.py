"""Helpers for the strategy-service integration tests: fast settings, tickers, fills, collectors."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from services.strategy.config import StrategySettings
from services.strategy.service import StrategyService
from shared import subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import PairsParams, ProductInfo, StrategySpec
from shared.messages.base import Side
from shared.messages.market import Ticker
from shared.messages.orders import Fill, Liquidity, OrderEvent, OrderIntent, OrderStatus

T = TypeVar("T", bound=msgspec.Struct)
VENUE = "coinbase"
"""The market: ticks and candles come from here."""
ORDER_VENUE = "coinbase-paper"
"""Where a paper spec's orders go: its products, fee tier and fills are kept under this venue."""
D = Decimal


def fast_settings(nats_url: str, worker_id: str, **overrides: Any) -> StrategySettings:
    """Lease protocol in about a second instead of fifteen."""
    values: dict[str, Any] = {
        "nats": NatsSettings(url=nats_url),
        "worker_id": worker_id,
        "heartbeat_interval_s": 0.2,
        "lease_ttl_s": 1.0,
        "status_interval_s": 0.3,
        "snapshot_interval_s": 0.5,
        "restart_base_s": 0.05,
        "restart_max_s": 0.2,
        "restart_window_s": 30.0,
        "warmup_timeout_s": 0.2,
        "ack_wait_s": 2.0,
        "product_retry_s": 0.2,
    }
    values.update(overrides)
    return StrategySettings(**values)


def uid(prefix: str) -> str:
    """A unique id per test (the session's streams and buckets are shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def put_product(
    bus: Bus, product: str, *, base_increment: str = "0.0001", min_size: str = "0.0001"
) -> None:
    """Trading rules into KV products, as the paper execution service writes them."""
    kv = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)
    info = ProductInfo(
        venue=ORDER_VENUE,
        product_id=product,
        base_increment=D(base_increment),
        price_increment=D("0.01"),
        base_min_size=D(min_size),
    )
    await kv.put(subjects.product_key(ORDER_VENUE, product), info)


def ticker(product: str, price: Any, *, ts_ns: int | None = None, seq: int = 0, last: Any = None) -> Ticker:
    """A tick whose bid/ask straddle `price` by a cent; exchange time drives MA bars."""
    p = D(str(price))
    now = time.time_ns()
    return Ticker(
        venue=VENUE,
        product_id=product,
        bid=p - D("0.01"),
        ask=p + D("0.01"),
        bid_size=D(1),
        ask_size=D(1),
        last=D(str(last)) if last is not None else p,
        exchange_time_ns=ts_ns if ts_ns is not None else now,
        receive_time_ns=now,
        sequence=seq,
    )


async def send(bus: Bus, tick: Ticker) -> None:
    """Publish a tick as the market-data service does."""
    await bus.publish(subjects.ticker(tick.venue, tick.product_id), tick, traced=False)


async def fill(
    bus: Bus, intent: OrderIntent, size: Decimal | None = None, *, done: bool = True, trade: str = ""
) -> None:
    """Execution's side: a fill of `size` (default all) and, with `done`, the terminal event."""
    size = intent.size if size is None else size
    price = intent.reference_price or D(100)
    trade_id = trade or f"t-{intent.client_order_id}-{size}"
    if size > 0:
        f = Fill(
            trade_id=trade_id,
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            venue=intent.venue,
            product_id=intent.product_id,
            side=intent.side,
            price=price,
            size=size,
            fee=D(0),
            liquidity=Liquidity.TAKER,
            fill_ns=time.time_ns(),
        )
        await bus.publish_durable(subjects.fill(intent.venue, intent.product_id), f, msg_id=f.dedupe_key)
    if done:
        status = OrderStatus.FILLED if size == intent.size else OrderStatus.CANCELLED
        event = OrderEvent(
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            venue=intent.venue,
            product_id=intent.product_id,
            side=intent.side,
            status=status,
            size=intent.size,
            filled_size=size,
            event_ns=time.time_ns(),
        )
        await bus.publish_durable(
            subjects.order_event(intent.venue, intent.strategy_id),
            event,
            msg_id=event.dedupe_key,
        )


async def kill(service: StrategyService) -> None:
    """A worker dies: nothing released, its connection gone."""
    await service.abort()
    if service.bus is not None:
        await service.bus.nc.close()


class Collector(Generic[T]):
    """Every message of one type seen on a subject."""

    def __init__(self) -> None:
        self.items: list[T] = []

    async def start(self, bus: Bus, subject: str, message_type: type[T]) -> Collector[T]:
        async def keep(message: T) -> None:
            self.items.append(message)

        await bus.subscribe(subject, message_type, keep, traced=False)
        await bus.nc.flush()
        return self


__all__ = [
    "ORDER_VENUE",
    "VENUE",
    "Collector",
    "D",
    "Side",
    "fast_settings",
    "fill",
    "kill",
    "put_product",
    "send",
    "ticker",
    "uid",
]


def pairs_spec(sid: str, a: str, b: str, **overrides: object) -> StrategySpec:
    """A fast pairs spec: flat-spread entry at z 1.5, no cooldowns, long execution and unhedged
    timeouts (a test decides when legs fill); `overrides` replace params fields."""
    params = PairsParams(
        leg1_id=a,
        leg2_id=b,
        window=5,
        entry_z=1.5,
        exit_z=0.2,
        hedge_ratio="fixed",
        notional=D(1000),
        entry_cooldown_ms=0,
        exit_cooldown_ms=0,
        execution_timeout_ms=60_000,
        max_unhedged_ms=60_000,
    )
    return StrategySpec(id=sid, params=msgspec.structs.replace(params, **overrides))
