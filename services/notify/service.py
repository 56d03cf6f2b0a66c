"""The notification service, a thin adapter: read the bus, ask `core` what to say, deliver through Apprise.

Reads (its NATS user `notify` is read-only): fills through the durable `notify` (new fills only, so a
restart loses none), `risk.state` and `risk.pnl` (and their KV copies at start), `recon.report.*`,
and every `readiness_check_s` the heartbeats in KV `services`. Deliveries run one at a time in a
worker thread (Apprise is blocking), from a bounded queue that drops the oldest message when a
channel is too slow; with no URL configured, messages are only logged.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import apprise
import msgspec
import structlog
from prometheus_client import Counter

from services.notify import core
from services.notify.config import KindSettings, NotifySettings
from services.notify.limiter import RateLimiter
from shared import subjects
from shared.bus import Bus, DeliveryInfo, TypedKV
from shared.messages import Fill, PnlSummary, ReconReport, RiskState, ServiceHeartbeat
from shared.runtime import HEARTBEAT_INTERVAL_S, ServiceContext
from shared.tasks import cancel_and_wait

T = TypeVar("T", bound=msgspec.Struct)
_log = structlog.get_logger("notify")
MESSAGES = Counter(
    "notify_messages_total",
    "Notifications by kind and outcome: sent, failed, logged (no URL), suppressed (into a digest), dropped",
    ["kind", "outcome"],
)
DURABLE = "notify"
FILLS = subjects.STREAM_SUBJECTS[subjects.STREAM_FILLS][0]
TICK_S = 1.0


class NotifyService:
    """See the module doc. `clock` (ns) is injectable for tests."""

    def __init__(self, settings: NotifySettings, *, clock: Callable[[], int] = time.time_ns) -> None:
        self.settings = settings
        self._clock = clock
        self._kinds: dict[core.Kind, KindSettings] = {k: getattr(settings, k.value) for k in core.Kind}
        self._limiter = RateLimiter({k: s.min_interval_s for k, s in self._kinds.items()})
        self._risk = core.RiskWatch()
        self._recon = core.ReconWatch()
        self._readiness = core.ReadinessWatch(
            after_s=settings.not_ready_after_s, fresh_s=3 * HEARTBEAT_INTERVAL_S, ignore=frozenset()
        )
        self._schedule = core.DailySchedule.starting(settings.daily_summary_minute, clock())
        self._pnl: PnlSummary | None = None
        self._apprise = apprise.Apprise()
        self._queue: collections.deque[core.Note] = collections.deque(maxlen=settings.queue_size)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._bus: Bus | None = None
        self.counts: collections.Counter[str] = collections.Counter()

    async def start(self, ctx: ServiceContext) -> None:
        """Load the standing state, subscribe, consume fills, start the sender and the clock."""
        self._bus = ctx.bus
        self._readiness.ignore = frozenset({ctx.name})
        for url in self.settings.all_urls():
            if not self._apprise.add(url):  # never log the URL itself: it carries tokens
                _log.warning("notify_url_rejected", scheme=url.split("://", 1)[0])
        _log.info("notify_targets", count=len(self._apprise))
        state = await _safe_get(await ctx.bus.kv(subjects.KV_RISK_STATE, RiskState), "state")
        if state is not None:
            self._emit(self._risk.observe(state))
        self._pnl = await _safe_get(await ctx.bus.kv(subjects.KV_RISK_STATE, PnlSummary), "pnl")
        await ctx.bus.subscribe(subjects.RISK_STATE, RiskState, self.on_risk, traced=False)
        await ctx.bus.subscribe(subjects.RISK_PNL, PnlSummary, self.on_pnl, traced=False)
        await ctx.bus.subscribe(subjects.recon_report(subjects.ANY), ReconReport, self.on_recon, traced=False)
        await ctx.bus.consume(
            stream=subjects.STREAM_FILLS,
            durable=DURABLE,
            subject=FILLS,
            message_type=Fill,
            handler=self.on_fill,
            new_only=True,
        )
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="notify-send"),
            asyncio.create_task(self._tick_loop(), name="notify-tick"),
        ]
        ctx.add_ready_detail("notify", self.detail)

    async def stop(self) -> None:
        """Stop the loops; messages still queued are dropped (and counted)."""
        await cancel_and_wait(self._tasks)
        for note in self._queue:
            MESSAGES.labels(note.kind.value, "dropped").inc()
        self._queue.clear()

    def detail(self) -> dict[str, Any]:
        """`/ready` details: how many targets (never the URLs) and what happened to the messages."""
        return {"targets": len(self._apprise), "queued": len(self._queue), **self.counts}

    # ---- bus handlers ----
    async def on_fill(self, fill: Fill, _: DeliveryInfo) -> None:
        self._emit([core.fill_note(fill)])

    async def on_risk(self, state: RiskState) -> None:
        self._emit(self._risk.observe(state))

    async def on_pnl(self, pnl: PnlSummary) -> None:
        self._pnl = pnl

    async def on_recon(self, report: ReconReport) -> None:
        self._emit(self._recon.observe(report))

    # ---- limiting and queueing ----
    def _emit(self, notes: Iterable[core.Note]) -> None:
        now = self._clock()
        for note in notes:
            if not self._kinds[note.kind].enabled:
                continue
            out = self._limiter.offer(note, now)
            if not out:
                self._count(note.kind, "suppressed")
            self._enqueue(out)

    def _enqueue(self, notes: Iterable[core.Note]) -> None:
        for note in notes:
            if len(self._queue) == self._queue.maxlen:
                self._count(self._queue[0].kind, "dropped")
            self._queue.append(note)
            self._wake.set()

    def _count(self, kind: core.Kind, outcome: str) -> None:
        MESSAGES.labels(kind.value, outcome).inc()
        self.counts[outcome] += 1

    # ---- loops ----
    async def _tick_loop(self) -> None:
        """Digests of ended intervals, the daily summary, and the readiness check."""
        next_check = 0
        while True:
            now = self._clock()
            self._enqueue(self._limiter.flush(now))
            day = self._schedule.due(now)
            if day and self._kinds[core.Kind.DAILY_SUMMARY].enabled:
                self._emit([core.summary_note(day, self._pnl)])
            if now >= next_check:
                next_check = now + int(self.settings.readiness_check_s * core.NS)
                try:
                    beats = await self._heartbeats()
                except Exception as exc:  # NATS away: readiness says so; try next time
                    _log.debug("notify_heartbeats_unreadable", error=str(exc))
                else:
                    self._emit(self._readiness.observe(beats, self._clock()))
            await asyncio.sleep(min(TICK_S, self.settings.readiness_check_s))

    async def _heartbeats(self) -> list[ServiceHeartbeat]:
        assert self._bus is not None
        kv = await self._bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
        beats = [await _safe_get(kv, key) for key in await kv.keys()]
        return [b for b in beats if b is not None]

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._deliver(self._queue.popleft())

    async def _deliver(self, note: core.Note) -> None:
        title = f"{self.settings.title}: {note.title}"
        _log.info("notification", kind=note.kind.value, key=note.key, title=title, body=note.body)
        if not len(self._apprise):
            self._count(note.kind, "logged")
            return
        try:
            result = await asyncio.to_thread(
                self._apprise.notify,
                body=note.body,
                title=title,
                notify_type=note.level.value,
                timeout=self.settings.send_timeout_s,
            )
            ok = bool(result)
        except Exception as exc:  # a plug-in's bug must not stop the sender
            _log.warning("notification_error", kind=note.kind.value, error=repr(exc))
            ok = False
        self._count(note.kind, "sent" if ok else "failed")
        if not ok:
            _log.warning("notification_failed", kind=note.kind.value, title=title)


async def _safe_get(kv: TypedKV[T], key: str) -> T | None:
    """One KV value, or None when absent or not of the type (the bucket holds several)."""
    try:
        entry = await kv.get(key)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return entry.value if entry is not None else None


def build_notify_service(settings: NotifySettings) -> NotifyService:
    """The factory `run_service` calls."""
    return NotifyService(settings)
