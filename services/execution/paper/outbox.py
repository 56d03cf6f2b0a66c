"""What the paper venue has decided but not yet written or told, sent out in a safe order.

Order records are written first (the venue's memory before what it tells, and the account never
ahead of its records); only once they are stored go the fills, the order events and the account
checkpoint, together in one round trip with the account last (the fills are what everyone downstream
waits for). What fails stays staged, in order; a task retries it with backoff until NATS answers, and
the error propagates (an order being placed is nak'd; `resume` re-reports it on redelivery).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import structlog

from services.execution.adapter import ReportSink, make_event
from services.execution.paper.records import PaperRecords
from services.execution.paper.state import account_state
from shared.bus import TypedKV
from shared.messages import Fill, OrderStatus, PaperAccountState, PaperOrderRecord
from shared.venue import Account

_log = structlog.get_logger("execution.paper")
Job = tuple[Awaitable[Any], dict[Any, Any] | None, Any]
"""A pending write: the awaitable, the pending set it leaves on success (None: the account), its key."""


class Outbox:
    """Staged record writes, fills, order events and the account checkpoint, and their retry."""

    def __init__(
        self,
        records: PaperRecords,
        account: Callable[[], Account],
        account_key: str,
        lock: asyncio.Lock,
        clock: Callable[[], int],
    ) -> None:
        self._records = records
        self._account = account
        self._account_key = account_key
        self._lock = lock  # the adapter's: a retry writes nothing a change is half-way through
        self._clock = clock
        self._sink: ReportSink | None = None
        self.accounts: TypedKV[PaperAccountState] | None = None
        self._unsaved: dict[str, None] = {}  # client order ids whose record is not written yet
        self.account_unsaved = False
        self.fill_no = 0  # the number of the latest fill (the in-memory account reflects them all)
        self._unsent_fills: dict[str, Fill] = {}
        self._unsent_reports: dict[tuple[str, bool], None] = {}  # (client order id, as ACCEPTED)
        self.retry: asyncio.Task[None] | None = None

    def open(self, sink: ReportSink, accounts: TypedKV[PaperAccountState]) -> None:
        """Where events and fills are told, and where the account checkpoint is written."""
        self._sink = sink
        self.accounts = accounts

    @property
    def sink(self) -> ReportSink:
        assert self._sink is not None, "adapter not started"
        return self._sink

    @property
    def pending(self) -> int:
        """Writes and publishes a failure left to retry (0 when everything is out)."""
        unsaved = len(self._unsaved) + self.account_unsaved
        return unsaved + len(self._unsent_fills) + len(self._unsent_reports)

    def stage(self, record: PaperOrderRecord, *, report: bool = False, accepted: bool = False) -> None:
        """Record a new state of an order in memory; `persist` writes it (and reports it)."""
        coid = record.order.client_order_id
        self._records.remember(record)
        self._unsaved[coid] = None
        if accepted:
            self._unsent_reports[(coid, True)] = None
        if report:
            self._unsent_reports[(coid, False)] = None

    def next_fill_no(self) -> int:
        """Number a new fill: the account checkpoint says through which number it is booked."""
        self.fill_no += 1
        return self.fill_no

    def stage_fills(self, fills: list[Fill]) -> None:
        self._unsent_fills.update((fill.trade_id, fill) for fill in fills)

    async def save(self, record: PaperOrderRecord) -> None:
        self.stage(record)
        await self.persist()

    async def persist(self) -> None:
        """Write what is pending: order records, then (only once they are stored) the fills, order
        events and the account together. Whatever fails stays pending, a task retries it, and the
        error propagates."""
        accounts = self.accounts
        assert accounts is not None
        try:
            writes: list[Job] = [
                (self._records.put(coid), self._unsaved, coid) for coid in list(self._unsaved)
            ]
            await self._together(writes)
            tells: list[Job] = [
                (self.sink.fill(fill), self._unsent_fills, trade_id)
                for trade_id, fill in list(self._unsent_fills.items())
            ]
            for coid, accepted in list(self._unsent_reports):
                status = OrderStatus.ACCEPTED if accepted else None
                tells.append(
                    (self.report(self._records[coid], status), self._unsent_reports, (coid, accepted))
                )
            if self.account_unsaved and not self._unsaved:
                # Only after the records it reflects; sent last in the same round trip (the fills
                # are what everyone downstream waits for).
                account = account_state(self._account(), self.fill_no)
                self.account_unsaved = False  # a change while it is written sets it again
                tells.append((accounts.put(self._account_key, account), None, None))
            await self._together(tells)
        except Exception as exc:
            _log.warning("paper_persist_pending", pending=self.pending, error=repr(exc))
            if self.retry is None or self.retry.done():
                self.retry = asyncio.create_task(self._retry_pending(), name="paper-persist-retry")
            raise

    async def _together(self, jobs: list[Job]) -> None:
        """Await writes concurrently (one round trip, sent in order); each success leaves its
        pending set (None: the account, pending again if it failed), and the first failure is
        raised after all finished."""
        results = await asyncio.gather(*(job for job, _, _ in jobs), return_exceptions=True)
        failure: BaseException | None = None
        for (_, pending, key), result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                failure = failure or result
                if pending is None:
                    self.account_unsaved = True
            elif pending is not None:
                pending.pop(key, None)
        if failure is not None:
            raise failure

    async def _retry_pending(self) -> None:
        """Retry pending writes with backoff until everything is out (NATS is back)."""
        delay = 0.2
        while self.pending:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            async with self._lock:
                with contextlib.suppress(Exception):  # logged by `persist`; try again later
                    await self.persist()
        _log.info("paper_persist_recovered")

    async def stop(self) -> None:
        """Stop retrying in the background; write what is pending once more, now."""
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None
        if self.pending:
            async with self._lock:
                await self.persist()

    async def report(self, record: PaperOrderRecord, status: OrderStatus | None = None) -> None:
        """Tell the record's state (or, with ACCEPTED, exactly what was first told: same msg id)."""
        status = status or record.status
        accepted = status is OrderStatus.ACCEPTED
        await self.sink.order_event(
            make_event(
                record.order,
                status,
                self._clock(),
                venue_order_id=record.venue_order_id,
                filled_size=Decimal(0) if accepted else record.filled_size,
                average_price=None if accepted else record.average_price,
                reason=record.reason,
            )
        )
