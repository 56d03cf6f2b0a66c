"""The live adapter: placement with exactly-once semantics, order sync, fills, cancels.

Placement: the record is stored, then `POST /orders` is tried up to
`place_attempts` times with the *same* `client_order_id`. `success:false` is a definitive reject with
the venue's reason. A timeout/5xx makes the outcome ambiguous: the retry either creates the order or
gets the original back (the venue is idempotent on the id); if every attempt failed, the venue is
asked (`list_orders`) and, if it still cannot say, an `unknown` event goes to reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog

from services.execution import metrics
from services.execution.adapter import ReportSink
from services.execution.coinbase import constants as c
from services.execution.coinbase import parse
from services.execution.coinbase.config import LiveSettings
from services.execution.coinbase.fills import FillPoller, FillsCursor
from services.execution.coinbase.http import CoinbaseHttp
from services.execution.coinbase.state import LiveOrderRecord, OrderStore
from services.execution.coinbase.tracker import OrderTracker
from services.execution.coinbase.ws import UserChannel
from services.execution.errors import NonRetryableVenueError, RetryableVenueError
from shared import subjects
from shared.bus import Bus
from shared.coinbase.schemas import (
    CancelResponse,
    CreateOrderResponse,
    ListOrdersResponse,
    ListProductsResponse,
    RestOrder,
    TransactionSummary,
)
from shared.config import CoinbaseCredentials, VenueSettings
from shared.errors import OrderRejectedError, VenueError
from shared.messages import CancelRequest, FeeRates, Order, OrderStatus, ProductInfo
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("execution.coinbase")


class CoinbaseAdapter:
    """`ExecutionAdapter` for Coinbase Advanced Trade (the real venue or the simulator)."""

    def __init__(
        self,
        venue: str,
        settings: LiveSettings,
        http: CoinbaseHttp,
        bus: Bus,
        *,
        user_channel: tuple[VenueSettings, CoinbaseCredentials] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.venue = venue
        self.settings = settings
        self.http = http
        self._bus = bus
        self._clock = clock
        self._tracker: OrderTracker | None = None
        self._catalogue: dict[str, ProductInfo] = {}
        self._user_channel = user_channel
        self._tasks: list[asyncio.Task[None]] = []
        self.ws: UserChannel | None = None
        self.store: OrderStore | None = None
        self.poller: FillPoller | None = None
        self.submissions = 0

    # ---- lifecycle ----
    async def start(self, sink: ReportSink) -> None:
        """Load records and the fills cursor, catch up open orders, start fill polling and the WS trigger."""
        self.store = OrderStore(await self._bus.kv(subjects.KV_EXEC_STATE, LiveOrderRecord), self.venue)
        await self.store.load()
        self._tracker = OrderTracker(
            self.http,
            self.store,
            sink,
            self.settings.fills_page_size,
            self._clock,
            late_fill_wait_s=self.settings.late_fill_wait_s,
        )
        cursor_kv = await self._bus.kv(subjects.KV_EXEC_STATE, FillsCursor)
        self.poller = FillPoller(self.http, cursor_kv, self.venue, self.settings, self._tracker.on_fills)
        await self.poller.load()
        for record in self.store.open_records():
            with contextlib.suppress(VenueError):
                await self.tracker.sync(record.order.client_order_id)
        tracker = self._tracker
        self._tasks = [
            asyncio.create_task(self.poller.run(), name=f"execution-fills-{self.venue}"),
            asyncio.create_task(
                tracker.run_syncs(self.settings.open_orders_sync_s), name=f"execution-syncs-{self.venue}"
            ),
            asyncio.create_task(
                tracker.run_late_fill_checks(self.settings.late_fill_recheck_s),
                name=f"execution-late-fills-{self.venue}",
            ),
        ]
        if self._user_channel is not None and self.settings.ws_user:
            venue_settings, credentials = self._user_channel
            self.ws = UserChannel(venue_settings, self.settings, credentials, tracker.on_user)
            self._tasks.append(asyncio.create_task(self.ws.run(), name=f"execution-user-ws-{self.venue}"))

    async def stop(self) -> None:
        """Stop polling and the user channel (records and cursor are already in KV)."""
        await cancel_and_wait(self._tasks)

    async def fee_rates(self) -> FeeRates:
        """The account's tier from `GET /transaction_summary`, for spot and for futures."""
        spot = await self.http.read(c.TRANSACTION_SUMMARY, TransactionSummary)
        futures = await self.http.read(
            c.TRANSACTION_SUMMARY, TransactionSummary, params={"product_type": "FUTURE"}
        )
        return parse.fee_rates(self.venue, spot.fee_tier, futures.fee_tier, self._clock())

    async def products(self) -> list[ProductInfo]:
        """The catalogue from `GET /products` (also used to verify increments before placing)."""
        listing = await self.http.read(c.PRODUCTS, ListProductsResponse)
        infos = [parse.product_info(self.venue, raw) for raw in listing.products]
        self._catalogue = {p.product_id: p for p in infos if p is not None}
        return list(self._catalogue.values())

    # ---- state ----
    @property
    def tracker(self) -> OrderTracker:
        """Acceptance, fills and status reporting (exists once started)."""
        assert self._tracker is not None, "adapter not started"
        return self._tracker

    @property
    def orders(self) -> OrderStore:
        assert self.store is not None, "adapter not started"
        return self.store

    async def place(self, order: Order) -> OrderStatus:
        """Check, submit (retrying with the same id), verify; every outcome is reported."""
        try:
            if order.venue != self.venue:
                raise OrderRejectedError(c.WRONG_VENUE, f"order for {order.venue!r} reached {self.venue!r}")
            if order.product_id not in self._catalogue:
                await self.products()
            body = parse.create_body(order, self._catalogue.get(order.product_id))
        except OrderRejectedError as exc:
            _log.info(
                "order_rejected_locally",
                client_order_id=order.client_order_id,
                reason=exc.reason,
                detail=exc.detail,
            )
            await self.tracker.report(LiveOrderRecord(order=order), OrderStatus.REJECTED, exc.reason)
            return OrderStatus.REJECTED
        await self.orders.put(LiveOrderRecord(order=order))
        try:
            venue_order_id = await self._submit(order, body)
        except OrderRejectedError as exc:
            _log.info(
                "order_rejected", client_order_id=order.client_order_id, reason=exc.reason, detail=exc.detail
            )
            record = await self.orders.put(
                LiveOrderRecord(order=order, status=OrderStatus.REJECTED, reason=exc.reason)
            )
            await self.tracker.report(record, OrderStatus.REJECTED, exc.reason)
            return OrderStatus.REJECTED
        known = self.orders.get(order.client_order_id)
        if venue_order_id is None and known is not None and known.venue_order_id:
            venue_order_id = known.venue_order_id  # the fill poller found it meanwhile
        if venue_order_id is None:
            record = await self.orders.put(LiveOrderRecord(order=order, status=OrderStatus.UNKNOWN))
            _log.error("order_outcome_unknown", client_order_id=order.client_order_id)
            await self.tracker.report(record, OrderStatus.UNKNOWN, "outcome unknown after retries; reconcile")
            return OrderStatus.UNKNOWN
        return await self._accepted(order, venue_order_id)

    async def _accepted(self, order: Order, venue_order_id: str) -> OrderStatus:
        await self.tracker.mark_accepted(order, venue_order_id)
        try:
            record = await self.tracker.sync(order.client_order_id)
        except RetryableVenueError as exc:  # accepted is recorded; the poller catches up on fills
            _log.warning("order_sync_deferred", client_order_id=order.client_order_id, error=str(exc))
            return OrderStatus.ACCEPTED
        return record.status or OrderStatus.ACCEPTED

    async def _submit(self, order: Order, body: dict[str, Any]) -> str | None:
        """The venue order id, None when still ambiguous, or `OrderRejectedError`."""
        backoff = self.http.backoff()
        ambiguous = False
        last: RetryableVenueError | None = None
        for attempt in range(1, self.settings.place_attempts + 1):
            self.submissions += 1
            try:
                response = await self.http.post(c.ORDERS, body, CreateOrderResponse)
            except RetryableVenueError as exc:
                ambiguous, last = ambiguous or exc.ambiguous, exc
                metrics.VENUE_RETRIES.labels(type(exc).__name__).inc()
                _log.warning(
                    "create_order_retry",
                    client_order_id=order.client_order_id,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                if attempt < self.settings.place_attempts:
                    await asyncio.sleep(backoff.next_delay())
                continue
            except NonRetryableVenueError as exc:
                if ambiguous:
                    break  # an earlier attempt may have landed: ask the venue below
                raise OrderRejectedError(exc.code or f"HTTP_{exc.status}", str(exc)) from exc
            if response.success:
                success = response.success_response
                return (success.order_id if success is not None else "") or response.order_id
            reason = parse.reject_reason(response)
            if reason != c.DUPLICATE_CLIENT_ORDER_ID:
                message = response.error_response.message if response.error_response else ""
                raise OrderRejectedError(reason, message)
            break  # the id exists at the venue: find that order
        else:
            if last is not None and not ambiguous:
                raise last  # only 429s: nothing was placed; the order is redelivered later
        try:
            found = await self._find(order)
        except RetryableVenueError:
            return None
        return found.order_id if found is not None else None

    async def _find(self, order: Order) -> RestOrder | None:
        """The venue's order with this `client_order_id` (same product and side), via `list_orders`."""
        since = min(order.approved_ns or self._clock(), self._clock()) - int(
            self.settings.order_lookback_s * 1e9
        )
        params: dict[str, Any] = {
            "product_ids": [order.product_id],
            "start_date": parse.to_rfc3339(since),
            "limit": 250,
        }
        while True:
            page = await self.http.read(c.LIST_ORDERS, ListOrdersResponse, params=params)
            for raw in page.orders:
                if parse.matches(raw, order):
                    return raw
            if not page.has_next or not page.cursor:
                return None
            params["cursor"] = page.cursor

    async def resume(self, order: Order, *, redelivered: bool) -> bool:
        """Exactly-once: re-report an order the venue already has instead of placing it again."""
        record = await self.orders.fetch(order.client_order_id)
        if record is not None and record.venue_order_id:
            await self.tracker.report(record, OrderStatus.ACCEPTED)
            await self.tracker.sync(order.client_order_id, force=True)
            return True
        if record is not None and record.status is OrderStatus.REJECTED:
            await self.tracker.report(record, OrderStatus.REJECTED, record.reason)
            return True
        if not redelivered:
            return False
        found = await self._find(order)  # a retryable failure here naks the order: never guess
        if found is None:
            return False
        await self._accepted(order, found.order_id)
        return True

    # ---- cancels ----
    async def owner(self, client_order_id: str) -> str | None:
        """The strategy of the recorded order (from KV: another replica may have placed it)."""
        record = await self.orders.fetch(client_order_id)
        return record.order.strategy_id if record is not None else None

    async def cancel(self, request: CancelRequest) -> None:
        """Cancel named orders, or all open ones (of `strategy_id` when set); report each outcome."""
        if request.client_order_ids:
            found = [await self.orders.fetch(coid) for coid in request.client_order_ids]
            records = [r for r in found if r is not None]
        else:
            await self.orders.load()  # other replicas' orders too: halting must cancel everything
            records = [
                r
                for r in self.orders.open_records()
                if not request.strategy_id or r.order.strategy_id == request.strategy_id
            ]
        targets = [r for r in records if r.venue_order_id and r.is_open]
        ids = [r.venue_order_id for r in targets]
        for start in range(0, len(ids), c.CANCEL_BATCH_MAX):
            chunk = ids[start : start + c.CANCEL_BATCH_MAX]
            response = await self._cancel_batch(chunk)
            for result in response.results:
                if not result.success:
                    _log.info("cancel_refused", venue_order_id=result.order_id, reason=result.failure_reason)
        for record in targets:
            await self.tracker.sync(record.order.client_order_id)

    async def _cancel_batch(self, order_ids: list[str]) -> CancelResponse:
        """Cancelling is idempotent, so retryable failures are simply retried."""
        backoff = self.http.backoff()
        for attempt in range(1, self.settings.read_attempts + 1):
            try:
                return await self.http.post(c.BATCH_CANCEL, {"order_ids": order_ids}, CancelResponse)
            except RetryableVenueError:
                if attempt == self.settings.read_attempts:
                    raise
                await asyncio.sleep(backoff.next_delay())
        raise AssertionError("unreachable")
