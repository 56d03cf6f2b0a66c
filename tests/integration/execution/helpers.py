"""One contract, two venues: a harness per adapter that scripts the market and inspects the venue.

`PaperHarness` runs the execution service in paper mode on the bus (serving the market's paper
venue, `<market>-paper`) and scripts the market by publishing `BookUpdate`/`Trade` messages on the
market's subjects; `LiveHarness` runs it in live mode (serving the market itself) against the
in-process exchange simulator (real SDK, TLS, JWT) and scripts the market through its control API.
Both books carry the same fees (Coinbase US Intro: 0.50% maker, 0.90% taker).
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.exchange_sim import ExchangeSim, SimConfig
from services.execution.coinbase.adapter import CoinbaseAdapter
from services.execution.coinbase.config import LiveSettings
from services.execution.coinbase.http import CoinbaseHttp
from services.execution.config import ExecutionSettings, PaperSettings
from services.execution.paper.adapter import PaperAdapter
from services.execution.service import ExecutionService
from shared import routing, subjects
from shared.bus import Bus
from shared.coinbase.rest import build_client
from shared.config import CoinbaseCredentials, NatsSettings, VenueSettings
from shared.messages import (
    BookLevel,
    BookUpdate,
    CancelRequest,
    Fill,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from shared.runtime import ServiceContext
from shared.testing import eventually

Levels = list[tuple[str, str]]
BALANCES = {"USD": "100000", "BTC": "1"}


def make_order(venue: str, **overrides: Any) -> Order:
    """An approved order with a fresh client order id (market buy 0.5 BTC-USD unless overridden)."""
    values: dict[str, Any] = {
        "client_order_id": str(uuid.uuid4()),
        "strategy_id": "s1",
        "intent_seq": 1,
        "leg": 0,
        "venue": venue,
        "product_id": "BTC-USD",
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "size": Decimal("0.5"),
        "time_in_force": TimeInForce.IOC,
        "approved_ns": time.time_ns(),
    }
    values.update(overrides)
    return Order(**values)


def levels(raw: Levels) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(s)) for p, s in raw]


class Recorder:
    """Every order event and fill the service published for this venue, read back from JetStream."""

    def __init__(self) -> None:
        self.events: list[OrderEvent] = []
        self.fills: list[Fill] = []

    async def start(self, bus: Bus, venue: str) -> Recorder:
        async def on_event(event: OrderEvent) -> None:
            self.events.append(event)

        async def on_fill(fill: Fill) -> None:
            self.fills.append(fill)

        await bus.follow(subjects.order_event(venue, subjects.REST), OrderEvent, on_event)
        await bus.follow(subjects.fill(venue, subjects.REST), Fill, on_fill)
        return self

    def statuses(self, coid: str) -> list[OrderStatus]:
        return [e.status for e in self.events if e.client_order_id == coid]

    def last(self, coid: str) -> OrderEvent | None:
        mine = [e for e in self.events if e.client_order_id == coid]
        return mine[-1] if mine else None

    def fills_of(self, coid: str) -> list[Fill]:
        return [f for f in self.fills if f.client_order_id == coid]

    async def wait_status(self, coid: str, status: OrderStatus, timeout_s: float = 10.0) -> OrderEvent:
        def seen() -> OrderEvent | None:
            return next((e for e in self.events if e.client_order_id == coid and e.status is status), None)

        found: OrderEvent | None = await eventually(seen, timeout_s=timeout_s, what=f"{status} for {coid}")
        assert found is not None
        return found


class Harness:
    """What the contract tests need from either venue."""

    kind = ""

    def __init__(self, bus: Bus, nats_url: str) -> None:
        self.bus = bus
        self.nats_url = nats_url
        self.market = f"t{uuid.uuid4().hex[:10]}"
        self.venue = routing.execution_venue(self.market, self.kind)
        """The venue the service serves: approvals, cancels, events and fills use it."""
        self.service: ExecutionService | None = None
        self.recorder = Recorder()

    def settings(self, **overrides: Any) -> ExecutionSettings:
        values: dict[str, Any] = {
            "nats": NatsSettings(url=self.nats_url),
            "mode": self.kind,
            "redelivery_delay_s": 0.2,
            "venue": VenueSettings(name=self.market),
        }
        values.update(overrides)
        return ExecutionSettings(**values)

    async def start(self, **overrides: Any) -> ExecutionService:
        settings = self.settings(**overrides)
        service = ExecutionService(settings, self.adapter(settings))
        await service.start(ServiceContext("execution", settings, self.bus))
        self.service = service
        if not self.recorder.events and not self.recorder.fills:
            await self.recorder.start(self.bus, self.venue)
        return service

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None

    def adapter(self, settings: ExecutionSettings) -> Any:
        raise NotImplementedError

    async def submit(self, order: Order) -> None:
        await self.bus.publish_durable(subjects.approved(self.venue), order, msg_id=order.client_order_id)

    async def cancel(self, *coids: str, strategy_id: str = "") -> None:
        request = CancelRequest(
            venue=self.venue, client_order_ids=coids, strategy_id=strategy_id, requested_ns=time.time_ns()
        )
        await self.bus.publish_durable(subjects.cancel(self.venue), request)

    async def set_book(self, product_id: str, bids: Levels, asks: Levels) -> None:
        raise NotImplementedError

    async def trade(self, product_id: str, side: Side, size: str, price: str) -> None:
        raise NotImplementedError

    def submissions(self) -> int:
        assert self.service is not None
        return int(self.service.adapter.submissions)  # type: ignore[attr-defined]

    def venue_orders(self, coid: str) -> int:
        raise NotImplementedError

    async def slow(self, ms: float) -> dict[str, Any]:
        """Make the venue answer slowly; returns settings overrides to apply at start."""
        raise NotImplementedError

    def quiet(self) -> dict[str, Any]:
        """Settings overrides that leave placement as the only reporter (no background triggers)."""
        return {}


class PaperHarness(Harness):
    kind = "paper"

    def adapter(self, settings: ExecutionSettings) -> PaperAdapter:
        return PaperAdapter(self.venue, settings.paper, self.bus, market=self.market)

    def settings(self, **overrides: Any) -> ExecutionSettings:
        overrides.setdefault("paper", PaperSettings(initial_balances=BALANCES))
        return super().settings(**overrides)

    @property
    def paper(self) -> PaperAdapter:
        assert self.service is not None
        adapter = self.service.adapter
        assert isinstance(adapter, PaperAdapter)
        return adapter

    async def set_book(self, product_id: str, bids: Levels, asks: Levels) -> None:
        before = self.paper.book_updates
        now = time.time_ns()
        update = BookUpdate(
            venue=self.market,
            product_id=product_id,
            bids=tuple(BookLevel(price=p, size=s) for p, s in levels(bids)),
            asks=tuple(BookLevel(price=p, size=s) for p, s in levels(asks)),
            is_snapshot=True,
            exchange_time_ns=now,
            receive_time_ns=now,
            sequence=0,
        )
        await self.bus.publish(subjects.book(self.market, product_id), update, traced=False)
        await eventually(lambda: self.paper.book_updates > before, what="paper book applied")

    async def trade(self, product_id: str, side: Side, size: str, price: str) -> None:
        now = time.time_ns()
        trade = Trade(
            venue=self.market,
            product_id=product_id,
            trade_id=uuid.uuid4().hex,
            price=Decimal(price),
            size=Decimal(size),
            side=side,
            exchange_time_ns=now,
            receive_time_ns=now,
        )
        await self.bus.publish(subjects.trade(self.market, product_id), trade, traced=False)

    def venue_orders(self, coid: str) -> int:
        engine = self.paper.engine
        return sum(1 for o in engine.orders.values() if o.request.client_order_id == coid)

    async def slow(self, ms: float) -> dict[str, Any]:
        return {"paper": PaperSettings(initial_balances=BALANCES, latency_ms=ms)}


class LiveHarness(Harness):
    kind = "live"

    def __init__(self, bus: Bus, nats_url: str, sim: ExchangeSim) -> None:
        super().__init__(bus, nats_url)
        self.sim = sim

    def settings(self, **overrides: Any) -> ExecutionSettings:
        overrides.setdefault(
            "live",
            LiveSettings(
                request_timeout_s=2.0,
                fills_poll_interval_s=0.1,
                retry_base_s=0.05,
                retry_max_s=0.2,
                fills_initial_lookback_s=60,
            ),
        )
        overrides.setdefault(
            "venue",
            VenueSettings(
                name=self.market,
                rest_host=self.sim.rest_host,
                ca_file=self.sim.ca_path,
                ws_url=self.sim.ws_url,
                ws_user_url=self.sim.ws_user_url,
            ),
        )
        return super().settings(**overrides)

    def adapter(self, settings: ExecutionSettings) -> CoinbaseAdapter:
        creds = CoinbaseCredentials(self.sim.key_name, self.sim.private_key_pem)
        client = build_client(settings.venue, creds, settings.live.request_timeout_s)
        http = CoinbaseHttp(client, settings.live)
        return CoinbaseAdapter(
            self.venue, settings.live, http, self.bus, user_channel=(settings.venue, creds)
        )

    async def set_book(self, product_id: str, bids: Levels, asks: Levels) -> None:
        self.sim.control.push_book(product_id, levels(bids), levels(asks))

    async def trade(self, product_id: str, side: Side, size: str, price: str) -> None:
        self.sim.control.push_trade(product_id, side, Decimal(size), Decimal(price))

    def venue_orders(self, coid: str) -> int:
        return sum(1 for o in self.sim.venue.orders.values() if o.request.client_order_id == coid)

    async def slow(self, ms: float) -> dict[str, Any]:
        self.sim.control.set_latency(ms)
        return {}

    def quiet(self) -> dict[str, Any]:
        return {"live": LiveSettings(request_timeout_s=2.0, fills_poll_interval_s=60, ws_user=False)}


def sim_config(run_dir: Path) -> SimConfig:
    """A quiet simulator: no price feed (books are scripted), the default fees and balances."""
    return SimConfig(run_dir=str(run_dir), feed_enabled=False, balances=BALANCES)
