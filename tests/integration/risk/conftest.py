"""Fixtures: a nats-server of each test's own (risk follows whole streams, so tests must not share
one), and the risk service started in-process against it.

Risk answers only strategies with a spec in KV `strategy_specs`: the `harness` fixture writes live
specs for `s1` and `s2` (their intents go to `coinbase`, the live route); `put_spec` writes others."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import structlog

from services.risk.config import RiskSettings
from services.risk.service import RiskService
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import (
    ControlCommand,
    ControlReply,
    Fill,
    Liquidity,
    MaCrossoverParams,
    Mode,
    Order,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    OrderType,
    ProductInfo,
    Purpose,
    RiskDecision,
    Side,
    StrategySpec,
    Ticker,
    client_order_id,
)
from shared.natsserver import NatsServer
from shared.risk import BreakerConfig, RateLimit, RiskLimits
from shared.runtime import ServiceContext
from shared.testing import eventually

D = Decimal
VENUE = "coinbase"
BTC = "BTC-USD"
BTC_INFO = ProductInfo(
    venue=VENUE,
    product_id=BTC,
    base_increment=D("0.00000001"),
    price_increment=D("0.01"),
    base_min_size=D("0.00001"),
    min_notional=D("1"),
)
StartRisk = Callable[..., Awaitable[RiskService]]


def limits(**overrides: Any) -> RiskLimits:
    """Generous limits: a 0.1 BTC order at 100 000 passes everything."""
    fields: dict[str, Any] = {
        "max_position_notional": D(50_000),
        "max_strategy_notional": D(100_000),
        "max_gross_exposure": D(200_000),
        "daily_loss_limit": D(1_000),
        "venue_rate": RateLimit(per_second=D(100), burst=100),
        "strategy_rate": RateLimit(per_second=D(100), burst=100),
        "price_band_bps": D(50),
        "max_staleness_ms": 60_000,
        "breaker": BreakerConfig(failure_threshold=5, min_outcomes=10, cooldown_ms=60_000),
    }
    fields.update(overrides)
    return RiskLimits(**fields)


class RiskHarness:
    """The test's side of the bus: publishes what strategies, execution and market data would."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.decisions: dict[str, list[RiskDecision]] = {}
        self._seq = 0

    async def listen(self) -> None:
        async def on_decision(decision: RiskDecision) -> None:
            self.decisions.setdefault(decision.client_order_id, []).append(decision)

        await self.bus.subscribe(subjects.decision(subjects.ANY), RiskDecision, on_decision)

    async def product(self, info: ProductInfo = BTC_INFO) -> None:
        kv = await self.bus.kv(subjects.KV_PRODUCTS, ProductInfo)
        await kv.put(subjects.product_key(info.venue, info.product_id), info)

    async def put_spec(
        self, strategy_id: str, mode: Mode = Mode.LIVE, *, enabled: bool = True
    ) -> StrategySpec:
        """Write a strategy instance as the CLI does (its orders route to `coinbase` when live)."""
        spec = StrategySpec(
            id=strategy_id, params=MaCrossoverParams(product_id=BTC), mode=mode, enabled=enabled
        )
        kv = await self.bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
        await kv.put(strategy_id, spec)
        return spec

    async def delete_spec(self, strategy_id: str) -> None:
        kv = await self.bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
        await kv.delete(strategy_id)

    async def ticker(self, mid: str, product: str = BTC) -> None:
        price, now = D(mid), time.time_ns()
        half = D("0.5")
        tick = Ticker(
            venue=VENUE,
            product_id=product,
            bid=price - half,
            ask=price + half,
            bid_size=D(1),
            ask_size=D(1),
            last=price,
            exchange_time_ns=now,
            receive_time_ns=now,
            sequence=1,
        )
        await self.bus.publish(subjects.ticker(VENUE, product), tick, traced=False)

    def intent(self, **overrides: Any) -> OrderIntent:
        self._seq += 1
        sid = overrides.get("strategy_id", "s1")
        fields: dict[str, Any] = {
            "client_order_id": client_order_id(sid, self._seq, 0),
            "strategy_id": sid,
            "intent_seq": self._seq,
            "leg": 0,
            "venue": VENUE,
            "product_id": BTC,
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "size": D("0.1"),
            "limit_price": D("100000.00"),
            "purpose": Purpose.ENTRY,
            "created_ns": time.time_ns(),
        }
        fields.update(overrides)
        return OrderIntent(**fields)

    async def send(self, intent: OrderIntent, *, msg_id: str | None = "", sender: str = "") -> None:
        """Publish as a strategy does (msg_id = client_order_id unless told otherwise), on the
        intent subject of `sender` (default: the intent's own strategy)."""
        mid = intent.client_order_id if msg_id == "" else msg_id
        subject = subjects.intent(sender or intent.strategy_id)
        await self.bus.publish_durable(subject, intent, msg_id=mid)

    async def decide(self, intent: OrderIntent) -> RiskDecision:
        """Send an intent and wait for its decision."""
        await self.send(intent)
        return (await self.wait_decisions(intent))[0]

    async def wait_decisions(self, intent: OrderIntent) -> list[RiskDecision]:
        """Every decision published for an intent, once there is one."""
        return await eventually(lambda: self.decisions.get(intent.client_order_id, []), what="a decision")

    async def fill(
        self,
        side: Side,
        size: str,
        price: str,
        fee: str = "0",
        *,
        trade: str = "",
        sid: str = "s1",
        venue: str = VENUE,
    ) -> Fill:
        self._seq += 1
        fill = Fill(
            trade_id=trade or f"t{self._seq}",
            client_order_id=f"c{self._seq}",
            strategy_id=sid,
            venue=venue,
            product_id=BTC,
            side=side,
            price=D(price),
            size=D(size),
            fee=D(fee),
            liquidity=Liquidity.TAKER,
            fill_ns=time.time_ns(),
        )
        await self.bus.publish_durable(subjects.fill(venue, BTC), fill, msg_id=fill.dedupe_key)
        return fill

    async def event(self, intent: OrderIntent | Order, status: OrderStatus, reason: str = "") -> None:
        event = OrderEvent(
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            venue=intent.venue,
            product_id=intent.product_id,
            side=intent.side,
            status=status,
            size=intent.size,
            reason=reason,
            event_ns=time.time_ns(),
        )
        subject = subjects.order_event(intent.venue, intent.strategy_id)
        await self.bus.publish_durable(subject, event, msg_id=event.dedupe_key)

    async def control(self, action: str, **fields: Any) -> ControlReply:
        # Any string, unknown actions included: the wire carries the text, risk judges it.
        command = ControlCommand(action=action, requested_ns=time.time_ns(), **fields)  # type: ignore[arg-type]
        return await self.bus.request(subjects.RISK_CONTROL, command, ControlReply, timeout=5.0)

    async def stream_count(self, stream: str) -> int:
        info = await self.bus.js.stream_info(stream)
        return int(info.state.messages)

    async def put_limits(self, value: RiskLimits | dict[str, Any]) -> None:
        kv = await self.bus.js.key_value(subjects.KV_RISK_LIMITS)
        await kv.put("limits", msgspec.msgpack.encode(value))


@pytest.fixture(autouse=True)
def _default_logging() -> None:
    """In-process CLI tests configure structlog onto a captured stream that is closed afterwards;
    start from structlog's defaults so an error logged here cannot fail on a dead stream."""
    structlog.reset_defaults()


@pytest.fixture
async def risk_bus(private_nats: NatsServer) -> AsyncIterator[Bus]:
    """A connected, provisioned bus on the test's own server."""
    bus = await Bus.connect(NatsSettings(url=private_nats.url), service="test")
    await streams.provision(bus.js)
    yield bus
    await bus.close()


@pytest.fixture
async def harness(risk_bus: Bus) -> RiskHarness:
    """Products in place, live specs for `s1` and `s2`, decisions recorded."""
    h = RiskHarness(risk_bus)
    await h.listen()
    await h.product()
    for sid in ("s1", "s2"):
        await h.put_spec(sid)
    return h


def settings_for(bus: Bus, **limit_overrides: Any) -> RiskSettings:
    """Fast housekeeping so tests see state changes quickly."""
    return RiskSettings(
        nats=NatsSettings(url=bus.nc.connected_url.geturl() if bus.nc.connected_url else ""),
        limits=msgspec.to_builtins(limits(**limit_overrides)),
        tick_interval_s=0.05,
        limits_refresh_s=0.05,
        report_interval_s=1.0,
        replay_timeout_s=10.0,
        startup_grace_s=0.0,  # tests of the checks want stale data refused at once
    )


@pytest.fixture
async def start_risk(risk_bus: Bus) -> AsyncIterator[StartRisk]:
    """Start risk in-process on the test's bus; every started instance is stopped afterwards."""
    started: list[RiskService] = []

    async def start(**limit_overrides: Any) -> RiskService:
        service = RiskService(settings_for(risk_bus, **limit_overrides))
        await service.start(ServiceContext("risk", service.settings, risk_bus))
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()
