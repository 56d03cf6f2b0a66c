"""The execution service: the work queue in, outcomes out, one adapter (paper or live) in between.

Thin by design: it owns the durable consumers, publishing (durable, with the contract's msg ids so a
repeat is stored once), metrics, the product catalogue and the two guards every approval passes
before it may reach the venue; all venue behaviour lives in the adapter. An order is acked only
after its outcome events were stored by JetStream, because the bus acks after the handler returns
and the sink awaits every publish ack.

The venue served is the route of the configured market and the mode (`coinbase` live,
`coinbase-paper` paper): its orders, cancels, fills, events, products and fee tier all carry it.

Guards, in order, after "is it already at the venue?" (re-reporting a placed order is always fine):

* Epoch fence (`fence.py`): an order approved in an older epoch than the newest halt seen is
  answered `CANCELLED` ("HALTED: ..."), never placed. Race: an order already being placed when the
  floor rises cannot be unsent. The halt's cancel-all covers it if it rests at the venue by then;
  if it lands after that cancel-all ran, the service cancels it itself once placement returns.
  A fill it got before either cancel stands (the ledger sees it like any fill).
* Deadline: past `Order.expires_ns` (plus `clock_skew_ms`) the order is answered `EXPIRED`
  ("DEADLINE_PASSED: ..."), never placed: a decision made on old prices is not sent late.

Both answers are terminal with zero fill, published like any outcome (durable, de-duplicated).
So is a third, `CANCELLED` ("CANCELLED_BY_STRATEGY: ..."), for an order whose own strategy asked to
cancel it before it was placed (`cancels.py`: what a strategy's cancel may touch).

Cancels come from one durable over two subjects: risk's `orders.cancel.<venue>` (a halt's
cancel-all, trusted, carrying the epoch) and strategies' `orders.cancel.<venue>.<strategy>` (judged
by `StrategyCancels`: only the subject's strategy's own orders, never all of them).
"""

from __future__ import annotations

import asyncio
import sys
import time

import structlog

from services.execution import catalogue, metrics
from services.execution.adapter import ExecutionAdapter, make_event
from services.execution.cancels import StrategyCancels, cancel_subjects, strategy_of, widen_durable
from services.execution.config import ExecutionSettings
from services.execution.errors import FatalVenueError
from services.execution.factory import build_adapter
from services.execution.fence import EpochFence
from shared import subjects
from shared.bus import Bus, Consumer, DeliveryInfo
from shared.config import CoinbaseCredentials
from shared.errors import VenueError
from shared.messages import CancelRequest, Fill, Order, OrderEvent, OrderStatus, ProductInfo
from shared.runtime import EXIT_CONFIG, ServiceContext
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("execution")
CANCEL_BACKLOG_WAIT_S = 5.0
"""At start, how long queued cancels may run before queued orders are looked at (a halt's
cancel-all among them raises the epoch floor first). Bounded: a cancel the venue keeps failing is
retried later and must not hold every order back."""


class ExecutionService:
    """Consumes `orders.approved.<venue>` and `orders.cancel.<venue>`; implements `ReportSink`."""

    def __init__(self, settings: ExecutionSettings, adapter: ExecutionAdapter | None = None) -> None:
        self.settings = settings
        self.market = settings.venue.name
        self.venue = settings.served_venue
        self.fence = EpochFence()
        self._adapter = adapter
        self.strategy_cancels = StrategyCancels(self._owner)
        self._bus: Bus | None = None
        self._consumers: list[Consumer] = []
        self._refresh: asyncio.Task[None] | None = None
        self.fatal = ""
        self.events_published = 0
        self.fills_published = 0

    @property
    def adapter(self) -> ExecutionAdapter:
        """The venue adapter (built from settings at start unless one was injected)."""
        assert self._adapter is not None, "service not started"
        return self._adapter

    @property
    def bus(self) -> Bus:
        assert self._bus is not None, "service not started"
        return self._bus

    async def start(self, ctx: ServiceContext) -> None:
        """Start the adapter, publish the catalogue, read the epoch floor, run queued cancels, then
        consume orders."""
        self._bus = ctx.bus
        if self._adapter is None:
            self._adapter = build_adapter(self.settings, ctx.bus)
        if self.adapter.venue != self.venue:
            raise ValueError(
                f"adapter serves {self.adapter.venue!r}, the {self.settings.mode} route is {self.venue!r}"
            )
        await self.adapter.start(self)
        await self.publish_products()
        ctx.add_ready_check("venue", lambda: not self.fatal)
        market_ready = getattr(self.adapter, "market_ready", None)
        if callable(market_ready):  # paper: false while an order waits for a product's first data
            ctx.add_ready_check("market_data", market_ready)
        ctx.add_ready_detail("execution", self.ready_detail)
        await self.fence.start(ctx.bus)
        durable = f"execution-{self.venue}"
        common = {"ack_wait_s": self.settings.ack_wait_s, "retry_delay_s": self.settings.redelivery_delay_s}
        risk_cancels, strategy_cancels = cancel_subjects(self.venue)
        await widen_durable(ctx.bus, f"{durable}-cancel", (risk_cancels, strategy_cancels))
        self._consumers = [
            await ctx.bus.consume(
                stream=subjects.STREAM_CANCELS,
                durable=f"{durable}-cancel",
                subject=risk_cancels,
                extra_subjects=(strategy_cancels,),
                message_type=CancelRequest,
                handler=self.on_cancel,
                batch=1,
                **common,  # type: ignore[arg-type]
            )
        ]
        await self._await_cancel_backlog(f"{durable}-cancel")
        self._consumers.append(
            await ctx.bus.consume(
                stream=subjects.STREAM_APPROVED,
                durable=durable,
                subject=subjects.approved(self.venue),
                message_type=Order,
                handler=self.on_order,
                batch=1,
                **common,  # type: ignore[arg-type]
            )
        )
        self._refresh = asyncio.create_task(self._refresh_loop(), name="execution-products")
        _log.info(
            "execution_started",
            mode=self.settings.mode,
            venue=self.venue,
            market=self.market,
            epoch_floor=self.fence.floor,
        )

    def ready_detail(self) -> dict[str, object]:
        """What `/ready` and the heartbeat in KV `services` say: which route this execution serves."""
        return {
            "mode": self.settings.mode,
            "venue": self.venue,
            "market": self.market,
            "fatal": self.fatal,
            "epoch_floor": self.fence.floor,
        }

    async def _await_cancel_backlog(self, durable: str) -> None:
        """Let the cancels queued while execution was down run before any queued order is looked at."""
        deadline = time.monotonic() + CANCEL_BACKLOG_WAIT_S
        while True:
            backlog = await self.bus.consumer_backlog(subjects.STREAM_CANCELS, durable)
            if backlog == 0:
                return
            if time.monotonic() >= deadline:
                _log.warning("cancel_backlog_still_running", pending=backlog)
                return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Finish the order in hand, stop consuming, then stop the adapter."""
        for consumer in self._consumers:
            await consumer.stop()
        await cancel_and_wait([self._refresh])
        await self.fence.stop()
        await self.adapter.stop()

    # ---- handlers ----
    async def on_order(self, order: Order, info: DeliveryInfo) -> None:
        """Place once: a redelivered order is looked up at the venue first; an order from before the
        latest halt or past its deadline is answered, not placed. Raising naks it."""
        started = time.perf_counter()
        redelivered = info.num_delivered > 1
        try:
            if await self.adapter.resume(order, redelivered=redelivered):
                metrics.REDELIVERED.labels("true").inc()
                _log.info(
                    "order_already_at_venue",
                    client_order_id=order.client_order_id,
                    deliveries=info.num_delivered,
                )
                await self._cancel_if_fenced(order)
                await self._cancel_if_asked(order)
                return
            if redelivered:
                metrics.REDELIVERED.labels("false").inc()
            if await self._refused(order):
                return
            status = await self.adapter.place(order)
            await self._cancel_if_fenced(order)
            await self._cancel_if_asked(order)
        except FatalVenueError as exc:
            self.fatal = str(exc)
            _log.error("venue_fatal", error=str(exc))
            raise
        metrics.ORDER_LATENCY.observe(time.perf_counter() - started)
        _log.info("order_handled", client_order_id=order.client_order_id, status=status.value)

    async def _refused(self, order: Order) -> bool:
        """Answer an order that must not be placed (older epoch, past deadline, cancelled by its
        strategy); True if so."""
        floor = self.fence.floor if order.epoch < self.fence.floor else await self.fence.refresh()
        now_ns = time.time_ns()
        if order.epoch < floor:
            status, code = OrderStatus.CANCELLED, "HALTED"
            detail = f"approved in epoch {order.epoch} before the halt of epoch {floor}"
        elif order.expires_ns and now_ns > order.expires_ns + self.settings.clock_skew_ms * 1_000_000:
            status, code = OrderStatus.EXPIRED, "DEADLINE_PASSED"
            late_ms = (now_ns - order.expires_ns) // 1_000_000
            detail = f"{late_ms} ms past its deadline (clock skew allowed: {self.settings.clock_skew_ms} ms)"
        elif self.strategy_cancels.asked(order):
            status, code = OrderStatus.CANCELLED, "CANCELLED_BY_STRATEGY"
            detail = "its strategy cancelled it before it was placed"
            metrics.STRATEGY_CANCELS.labels("before_placement").inc()
        else:
            return False
        await self.order_event(make_event(order, status, now_ns, reason=f"{code}: {detail}"))
        metrics.REFUSED.labels(code).inc()
        _log.warning("order_refused", client_order_id=order.client_order_id, reason=code, detail=detail)
        return True

    async def _cancel_if_fenced(self, order: Order) -> None:
        """The floor rose above the order's epoch while it was being placed (or before a redelivery):
        cancel it in case it rests, since the halt's cancel-all may have run before it landed."""
        if order.epoch >= self.fence.floor:
            return
        _log.warning("fenced_order_cancelled", client_order_id=order.client_order_id, epoch=order.epoch)
        await self.adapter.cancel(
            CancelRequest(
                venue=self.venue,
                client_order_ids=(order.client_order_id,),
                strategy_id=order.strategy_id,
                reason=f"HALTED: placed during the halt of epoch {self.fence.floor}",
                requested_ns=time.time_ns(),
            )
        )

    async def _cancel_if_asked(self, order: Order) -> None:
        """Its strategy asked to cancel the order while it was being placed: cancel it now."""
        if not self.strategy_cancels.asked(order):
            return
        _log.info("strategy_cancel_after_placement", client_order_id=order.client_order_id)
        await self.adapter.cancel(
            CancelRequest(
                venue=self.venue,
                client_order_ids=(order.client_order_id,),
                strategy_id=order.strategy_id,
                reason="strategy",
                requested_ns=time.time_ns(),
            )
        )

    async def _owner(self, client_order_id: str) -> str | None:
        return await self.adapter.owner(client_order_id)

    async def on_cancel(self, request: CancelRequest, info: DeliveryInfo) -> None:
        """Cancels always pass; failures are retried through redelivery. A halt's cancel-all raises
        the epoch floor before its cancels run; a strategy's cancel touches its own orders only."""
        strategy = strategy_of(info.subject)
        if strategy is not None:
            narrowed = await self.strategy_cancels.judge(request, strategy)
            if narrowed is not None:
                await self.adapter.cancel(narrowed)
            return
        self.fence.raise_to(request.epoch, "cancel_request")
        if request.venue != self.venue:
            _log.warning("cancel_for_other_venue", venue=request.venue)
            return
        await self.adapter.cancel(request)

    # ---- ReportSink ----
    async def order_event(self, event: OrderEvent) -> None:
        """Publish durably; the msg id makes a re-report of the same state a no-op."""
        await self.bus.publish_durable(
            subjects.order_event(event.venue, event.strategy_id), event, msg_id=event.dedupe_key
        )
        metrics.ORDERS.labels(event.status.value).inc()
        self.events_published += 1

    async def fill(self, fill: Fill) -> None:
        """Publish durably, de-duplicated by the venue's trade id."""
        await self.bus.publish_durable(
            subjects.fill(fill.venue, fill.product_id), fill, msg_id=fill.dedupe_key
        )
        metrics.FILLS.labels(fill.liquidity.value).inc()
        self.fills_published += 1

    # ---- catalogue ----
    async def publish_products(self) -> list[ProductInfo]:
        """Write the venue's trading rules and fee tier to KV (`catalogue.py`)."""
        return await catalogue.publish_products(self.bus, self.adapter, self.venue)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.products_refresh_s)
            try:
                await self.publish_products()
            except VenueError as exc:
                _log.warning("products_refresh_failed", error=str(exc))


def build_execution_service(settings: ExecutionSettings) -> ExecutionService:
    """The runtime's factory: the adapter is chosen from `settings.mode` when the service starts.

    Live mode without keys is a configuration error: say so in one line and exit 2 (no traceback).
    """
    if settings.mode == "live" and CoinbaseCredentials.from_environment() is None:
        print("execution: live mode needs COINBASE_API_KEY and COINBASE_API_SECRET", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    return ExecutionService(settings)
