"""Reconciliation against the exchange simulator on a real nats-server.

`Stack` runs the reconciliation service in-process (live reader → the simulator through the real
SDK, TLS and JWT) and plays the parts of the other services where a test needs them to misbehave:
it publishes intents as a strategy would, places orders at the venue as execution would, and
publishes (or, to lose them, does not publish) what execution would have published. `Audit`
rebuilds a ledger from the fills stream exactly as risk does, so "the ledger equals the venue" is
checked on the bus, not inside the service under test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from typing import Any

import msgspec
from coinbase.rest import RESTClient

from services.exchange_sim import ExchangeSim
from services.reconciliation.config import LiveReaderSettings, PolicySettings, ReconSettings
from services.reconciliation.service import ReconciliationService
from services.reconciliation.venues import schemas
from services.reconciliation.venues.live import LiveReader
from shared import subjects
from shared.bus import Bus
from shared.coinbase.rest import build_client
from shared.coinbase.schemas import ListFillsResponse
from shared.config import CoinbaseCredentials, NatsSettings, VenueSettings
from shared.ledger import Ledger
from shared.messages import (
    BookLevel,
    BookUpdate,
    CommandAction,
    Fill,
    InstanceLease,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    OrderType,
    Purpose,
    ReconReport,
    Side,
    StrategyCommand,
    StrategyCommandReply,
    StrategyStatus,
    client_order_id,
    lease_key,
)
from shared.runtime import ServiceContext
from shared.tasks import cancel_and_wait
from shared.testing import eventually

D = Decimal
BALANCES = {"USD": "100000", "BTC": "1", "ETH": "10"}
BOOKS = {
    "BTC-USD": ([(D("99"), D("50"))], [(D("100"), D("50"))]),
    "ETH-USD": ([(D("9"), D("500"))], [(D("10"), D("500"))]),
}


class Audit:
    """Every fill, event, intent and report of one venue, read back from JetStream."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.ledger = Ledger()
        self.fills: list[Fill] = []
        self.events: list[OrderEvent] = []
        self.intents: list[OrderIntent] = []
        self.reports: list[ReconReport] = []

    async def start(self, bus: Bus) -> Audit:
        async def on_fill(fill: Fill) -> None:
            self.fills.append(fill)
            self.ledger.apply(fill)

        async def on_event(event: OrderEvent) -> None:
            self.events.append(event)

        async def on_intent(intent: OrderIntent) -> None:
            if intent.venue == self.venue:
                self.intents.append(intent)

        async def on_report(report: ReconReport) -> None:
            self.reports.append(report)

        await bus.follow(subjects.fill(self.venue, subjects.REST), Fill, on_fill)
        await bus.follow(subjects.order_event(self.venue, subjects.REST), OrderEvent, on_event)
        await bus.follow(subjects.intent(subjects.REST), OrderIntent, on_intent)
        await bus.follow(subjects.recon_report(self.venue), ReconReport, on_report)
        return self

    def position(self, sid: str, product: str) -> Decimal:
        held = self.ledger.position(sid, self.venue, product)
        return held.quantity if held is not None else D(0)

    def total(self, product: str) -> Decimal:
        return sum((q for k, q in self.ledger.quantities().items() if k.product_id == product), D(0))

    def kinds(self) -> set[str]:
        return {f.kind for r in self.reports for f in r.findings}


class FakeInstance:
    """A dual-leg instance as reconciliation sees it: statuses on `strategy_status`, commands on
    `strategy_control`. `resolve` follows the machine's rule (both zero → flat, both held →
    in_position, otherwise halted with `imbalanced_after_reconcile`)."""

    def __init__(self, bus: Bus, sid: str, products: tuple[str, str]) -> None:
        self.bus = bus
        self.sid = sid
        self.products = products
        self.state = "reconciling"
        self.detail = "execution_timeout"
        self.positions = (D(0), D(0))
        self.commands: list[StrategyCommand] = []

    async def start(self) -> FakeInstance:
        await self.bus.serve(subjects.strategy_control(self.sid), StrategyCommand, self._on_command)
        await self.publish_status()
        return self

    async def publish_status(self) -> None:
        status = StrategyStatus(
            strategy_id=self.sid,
            kind="pairs",
            worker_id="fake",
            state=self.state,
            position=tuple(zip(self.products, self.positions, strict=True)),
            detail=self.detail,
            status_ns=time.time_ns(),
        )
        await self.bus.publish(subjects.strategy_status(self.sid), status, traced=False)

    async def _on_command(self, command: StrategyCommand) -> StrategyCommandReply:
        self.commands.append(command)
        if command.action is CommandAction.RESOLVE:
            p1, p2 = command.positions
            self.positions = (p1, p2)
            if p1 == 0 and p2 == 0:
                self.state, self.detail = "flat", "resolved_flat"
            elif p1 != 0 and p2 != 0:
                self.state, self.detail = "in_position", "resolved_in_position"
            else:
                self.state, self.detail = "halted", f"imbalanced_after_reconcile:pos1={p1},pos2={p2}"
        elif command.action is CommandAction.HALT:
            self.state, self.detail = "halted", command.reason
        return StrategyCommandReply(
            ok=True, strategy_id=self.sid, worker_id="fake", state=self.state, detail=self.detail
        )


class Stack:
    """The simulator, the reconciliation service and the parts of strategy/execution a test plays."""

    def __init__(self, bus: Bus, nats_url: str, sim: ExchangeSim) -> None:
        self.bus = bus
        self.nats_url = nats_url
        self.sim = sim
        self.venue = f"r{uuid.uuid4().hex[:10]}"
        self.service: ReconciliationService | None = None
        self.audit = Audit(self.venue)
        self.client: RESTClient = self._client()
        for product, (bids, asks) in BOOKS.items():
            sim.control.push_book(product, bids, asks)

    def _client(self) -> RESTClient:
        client = RESTClient(
            api_key=self.sim.key_name, api_secret=self.sim.private_key_pem, base_url=self.sim.rest_host
        )
        client.session.trust_env = False
        client.session.verify = self.sim.ca_path
        return client

    def settings(self, **overrides: Any) -> ReconSettings:
        values: dict[str, Any] = {
            "nats": NatsSettings(url=self.nats_url),
            "venue": VenueSettings(name=self.venue, rest_host=self.sim.rest_host, ca_file=self.sim.ca_path),
            "mode": "live",
            "interval_s": 0.3,
            "fill_grace_s": 0.0,
            "unknown_grace_s": 0.0,
            "max_unhedged_s": 0.0,
            "fills_lookback_s": 60.0,
            "catch_up_timeout_s": 2.0,
            "live": LiveReaderSettings(request_timeout_s=5.0, read_attempts=2, retry_delay_s=0.05),
        }
        if isinstance(overrides.get("policy"), dict):
            overrides["policy"] = PolicySettings(**overrides["policy"])
        values.update(overrides)
        return ReconSettings(**values)

    async def start(self, **overrides: Any) -> ReconciliationService:
        """Start reconciliation and wait for its first cycle (which captures the baseline)."""
        settings = self.settings(**overrides)
        creds = CoinbaseCredentials(self.sim.key_name, self.sim.private_key_pem)
        client = build_client(settings.venue, creds, settings.live.request_timeout_s)
        reader = LiveReader(client, settings.live, order_lookback_s=settings.order_lookback_s)
        service = ReconciliationService(settings, reader)
        await self.audit.start(self.bus)
        await service.start(ServiceContext("reconciliation", settings, self.bus))
        self.service = service
        await eventually(lambda: service.reports, timeout_s=10, what="first reconciliation cycle")
        return service

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None
        self.client.session.close()

    # ---- playing strategy and execution ----
    async def intent(self, sid: str, seq: int, leg: int, product: str, side: Side, size: str) -> OrderIntent:
        """What a strategy publishes (risk would approve it)."""
        intent = OrderIntent(
            client_order_id=client_order_id(f"{self.venue}-{sid}", seq, leg),
            strategy_id=sid,
            intent_seq=seq,
            leg=leg,
            venue=self.venue,
            product_id=product,
            side=side,
            order_type=OrderType.MARKET,
            size=D(size),
            purpose=Purpose.ENTRY,
            created_ns=time.time_ns(),
        )
        await self.bus.publish_durable(subjects.intent(sid), intent, msg_id=intent.client_order_id)
        return intent

    async def place(self, coid: str, product: str, side: Side, size: str) -> str:
        """A market order at the venue, as execution (or a human) places it; returns its venue id."""
        if side is Side.BUY:
            call = self.client.market_order_buy
            response = await asyncio.to_thread(call, client_order_id=coid, product_id=product, base_size=size)
        else:
            call = self.client.market_order_sell
            response = await asyncio.to_thread(call, client_order_id=coid, product_id=product, base_size=size)
        body = response.to_dict()
        assert body["success"], body
        return str(body["success_response"]["order_id"])

    async def event(
        self, intent: OrderIntent, status: OrderStatus, *, venue_order_id: str = "", filled: str = "0"
    ) -> None:
        """An order event as execution publishes it (same msg id)."""
        event = OrderEvent(
            client_order_id=intent.client_order_id,
            venue_order_id=venue_order_id,
            strategy_id=intent.strategy_id,
            venue=self.venue,
            product_id=intent.product_id,
            side=intent.side,
            status=status,
            size=intent.size,
            filled_size=D(filled),
            event_ns=time.time_ns(),
        )
        await self.bus.publish_durable(
            subjects.order_event(self.venue, intent.strategy_id), event, msg_id=event.dedupe_key
        )

    async def execute(self, intent: OrderIntent) -> list[Fill]:
        """What risk and execution do with an intent they pass: place it at the venue, then publish
        its fills and its terminal event."""
        venue_id = await self.place(intent.client_order_id, intent.product_id, intent.side, str(intent.size))
        response = await asyncio.to_thread(self.client.get_fills, order_ids=[venue_id])
        page = msgspec.convert(response.to_dict(), ListFillsResponse)
        fills = []
        for raw in page.fills:
            vf = schemas.to_fill(raw, intent.client_order_id)
            fills.append(
                Fill(
                    trade_id=vf.trade_id,
                    client_order_id=intent.client_order_id,
                    venue_order_id=vf.order_id,
                    strategy_id=intent.strategy_id,
                    venue=self.venue,
                    product_id=vf.product_id,
                    side=vf.side,
                    price=vf.price,
                    size=vf.size,
                    fee=vf.commission,
                    liquidity=vf.liquidity,
                    fill_ns=vf.time_ns,
                )
            )
        for fill in fills:
            await self.bus.publish_durable(
                subjects.fill(self.venue, fill.product_id), fill, msg_id=fill.dedupe_key
            )
        filled = sum((f.size for f in fills), D(0))
        await self.event(intent, OrderStatus.FILLED, venue_order_id=venue_id, filled=str(filled))
        return fills

    def balance(self, currency: str) -> Decimal:
        return self.sim.venue.account(self.sim.state.account_id).balance(currency)


class FakeWorker:
    """A strategy worker as reconciliation sees it: it renews an instance's lease in KV
    `worker_leases` and publishes its status, and answers commands as a slot whose instance is not
    running does (`halted` after repeated crashes, say). `stop()` is the worker dying: the lease is
    no longer renewed and nothing more is said."""

    def __init__(self, bus: Bus, sid: str, state: str, detail: str = "", kind: str = "pairs") -> None:
        self.bus = bus
        self.sid = sid
        self.state = state
        self.detail = detail
        self.kind = kind
        self.commands: list[StrategyCommand] = []
        self._task: asyncio.Task[None] | None = None
        self._serving: Any = None
        self._stopped = False

    async def start(self) -> FakeWorker:
        self._serving = await self.bus.serve(
            subjects.strategy_control(self.sid), StrategyCommand, self._on_command
        )
        leases = await self.bus.kv(subjects.KV_WORKER_LEASES, InstanceLease)
        now = time.time_ns()
        await leases.put(
            lease_key(self.sid),
            InstanceLease(worker_id="fake", strategy_id=self.sid, acquired_ns=now, renewed_ns=now),
        )
        await self.publish_status()
        self._task = asyncio.create_task(self._beat(leases))
        return self

    async def _beat(self, leases: Any) -> None:
        """Renew and report until stopped. The flag ends it, not the cancel alone: the lease `put`
        is a nats-py request, and on Python 3.11 its `asyncio.wait_for` returns the reply instead
        of raising when a cancel lands with that reply; the loop would then beat for ever."""
        while not self._stopped:
            await asyncio.sleep(0.1)
            now = time.time_ns()
            await leases.put(
                lease_key(self.sid),
                InstanceLease(worker_id="fake", strategy_id=self.sid, acquired_ns=now, renewed_ns=now),
            )
            if not self._stopped:
                await self.publish_status()

    async def publish_status(self) -> None:
        status = StrategyStatus(
            strategy_id=self.sid,
            kind=self.kind,
            worker_id="fake",
            state=self.state,
            detail=self.detail,
            status_ns=time.time_ns(),
        )
        await self.bus.publish(subjects.strategy_status(self.sid), status, traced=False)

    async def _on_command(self, command: StrategyCommand) -> StrategyCommandReply:
        self.commands.append(command)
        return StrategyCommandReply(
            ok=False,
            strategy_id=self.sid,
            worker_id="fake",
            state=self.state,
            detail=f"instance is not running ({self.state}: {self.detail})",
        )

    async def stop(self) -> None:
        self._stopped = True
        await cancel_and_wait([self._task])
        self._task = None
        if self._serving is not None:
            await self._serving.unsubscribe()
            self._serving = None


async def publish_book(bus: Bus, market: str, product: str, bid: Decimal, ask: Decimal) -> None:
    """One level each side on `md.book.<market>.<product>`: the paper venue's book to fill against."""
    now = time.time_ns()
    book = BookUpdate(
        venue=market,
        product_id=product,
        bids=(BookLevel(price=bid, size=Decimal(5)),),
        asks=(BookLevel(price=ask, size=Decimal(5)),),
        is_snapshot=True,
        exchange_time_ns=now,
        receive_time_ns=now,
        sequence=0,
    )
    await bus.publish(subjects.book(market, product), book, traced=False)
