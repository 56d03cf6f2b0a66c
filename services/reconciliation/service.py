"""The reconciliation service: at start and every `interval_s`, compare the ledger with the venue,
repair what can be repaired, apply the policies, and publish a `ReconReport`.

Thin by design (STYLE #4): reads happen here and in the venue reader, every decision in `core` and
`instances`, every effect in `actions`. One cycle:
venue snapshot → ledger caught up → ledger view → look up doubtful orders → `reconcile` →
publish fills, events; resolve / halt instances; corrective intents → `escalate` on what the
strategies answered → report, metrics, state (cursor, baseline, clocks) into KV `exec_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable

import structlog

from services.reconciliation import core, metrics
from services.reconciliation.actions import ActionRunner
from services.reconciliation.config import ReconSettings
from services.reconciliation.instances import escalate
from services.reconciliation.model import InstanceView, Memory, Outcome, PublishFill, VenueSnapshot
from services.reconciliation.state import ReconState, StateStore
from services.reconciliation.tracker import LedgerTracker
from services.reconciliation.venues import VenueReader, VenueReadError, build_reader
from shared import subjects
from shared.bus import Bus, Subscription, TypedKV
from shared.config import CoinbaseCredentials
from shared.messages import ReconFinding, ReconReport, StrategySpec, StrategyStatus
from shared.runtime import EXIT_CONFIG, ServiceContext
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("reconciliation")
_S = 1_000_000_000


class ReconciliationService:
    """One venue's reconciliation loop."""

    def __init__(
        self,
        settings: ReconSettings,
        reader: VenueReader | None = None,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.venue = settings.venue.name
        self._reader = reader
        self._clock = clock
        self.tracker = LedgerTracker(self.venue)
        self.state = ReconState(fills_cursor_ns=0)
        self.statuses: dict[str, StrategyStatus] = {}
        self.reports: list[ReconReport] = []
        self.cycles = 0
        self.last_ok_ns = 0
        self._bus: Bus | None = None
        self._store: StateStore | None = None
        self._specs: TypedKV[StrategySpec] | None = None
        self._status_sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._statuses_read = 0

    @property
    def bus(self) -> Bus:
        assert self._bus is not None, "service not started"
        return self._bus

    @property
    def reader(self) -> VenueReader:
        assert self._reader is not None, "service not started"
        return self._reader

    # ---- lifecycle ----
    async def start(self, ctx: ServiceContext) -> None:
        """Follow the streams and strategy statuses, load the state, start the cycle loop."""
        self._bus = ctx.bus
        if self._reader is None:
            self._reader = build_reader(self.settings, ctx.bus)
        self._store = StateStore(await ctx.bus.kv(subjects.KV_EXEC_STATE, ReconState), self.venue)
        self.state = await self._store.load(self._clock() - int(self.settings.fills_lookback_s * _S))
        self._specs = await ctx.bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)

        async def on_status(status: StrategyStatus) -> None:
            self.statuses[status.strategy_id] = status
            self._statuses_read += 1

        def skipped_status() -> None:
            self._statuses_read += 1

        # The status stream keeps each instance's latest status: after a restart every instance
        # (one left Reconciling included) is known at the first cycle, not at its next status.
        self._status_sub = await ctx.bus.follow(
            subjects.strategy_status(subjects.ANY),
            StrategyStatus,
            on_status,
            latest_only=True,
            on_skipped=skipped_status,
        )
        await self.tracker.start(ctx.bus)
        ctx.add_ready_check("recent_cycle", self._recent)
        ctx.add_ready_detail(
            "reconciliation",
            lambda: {"mode": self.settings.mode, "cycles": self.cycles, "last_ok_ns": self.last_ok_ns},
        )
        self._task = asyncio.create_task(self._loop(), name=f"recon-{self.venue}")
        _log.info("reconciliation_started", venue=self.venue, mode=self.settings.mode)

    async def stop(self) -> None:
        """Stop at once (a cycle cut short is simply repeated: every repair is idempotent)."""
        self._stopping = True
        await cancel_and_wait([self._task])
        if self._status_sub is not None:
            await self._status_sub.unsubscribe()
        await self.tracker.stop()
        if self._reader is not None:
            await self._reader.close()

    def _recent(self) -> bool:
        """Ready until three intervals pass without a completed cycle (starting counts as fresh)."""
        return self.cycles == 0 or self._clock() - self.last_ok_ns < 3 * self.settings.interval_s * _S

    def trigger(self) -> None:
        """Run the next cycle now (tests and operators; the interval restarts from it)."""
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.run_cycle()
            except Exception as exc:  # one failed cycle must never end reconciliation for good
                metrics.SKIPPED.labels("error").inc()
                _log.exception("recon_cycle_error", error=str(exc))
            self._wake.clear()
            # `asyncio.wait`, not `wait_for`: on 3.11 `wait_for` can swallow a cancel that lands as
            # its timeout fires, and `stop()` would then wait for a loop that never ends.
            sleeper = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper}, timeout=self.settings.interval_s)
            finally:
                sleeper.cancel()

    # ---- one cycle ----
    async def run_cycle(self) -> ReconReport:
        """Compare, repair, apply policies, report. Returns the report it published."""
        started = time.perf_counter()
        self.cycles += 1
        try:
            venue = await self.reader.snapshot(self.state.fills_cursor_ns)
        except VenueReadError as exc:
            return await self._skipped("venue_unreadable", str(exc))
        if not await self._caught_up():
            return await self._skipped("ledger_behind", "the ledger has not read every stored message")
        now = self._clock()
        ledger = self.tracker.view()
        try:
            found = await self.reader.look_up(core.orders_to_look_up(ledger, venue, now, self.settings))
        except VenueReadError as exc:
            return await self._skipped("venue_unreadable", str(exc))
        memory = Memory(
            reconciling_since=self.state.reconciling_since,
            unhedged_since=self.state.unhedged_since,
            baseline=self.state.baseline,
        )
        outcome = core.reconcile(ledger, venue, found, await self._instances(), memory, now, self.settings)
        runner = ActionRunner(self.bus, self.settings, self._clock)
        await runner.run(outcome.actions)
        for resolved in runner.resolved:
            self._remember(resolved.strategy_id, resolved.state, resolved.detail)
        escalated = escalate(runner.resolved, ledger, outcome.memory, now, self.settings)
        await runner.run(escalated.actions)
        unpublished = [a.fill.fill_ns for a in runner.failed if isinstance(a, PublishFill)]
        await self._save(venue, escalated.memory, now, min(unpublished, default=None))
        report = self._report(outcome, escalated, runner.done)
        await self.bus.publish_durable(subjects.recon_report(self.venue), report)
        self._account(report, started)
        return report

    async def _statuses_caught_up(self) -> bool:
        """The stream keeps one status per instance: at least that many must have been read."""
        info = await self.bus.js.stream_info(subjects.STREAM_STATUS)
        return self._statuses_read >= info.state.messages

    async def _caught_up(self) -> bool:
        deadline = time.monotonic() + self.settings.catch_up_timeout_s
        while not (await self.tracker.caught_up(self.bus) and await self._statuses_caught_up()):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def _instances(self) -> list[InstanceView]:
        """Every instance whose status we heard, with its products in spec order (the order
        `resolve` takes them in); instances of another venue are left out."""
        assert self._specs is not None
        out = []
        horizon = self._clock() - int(self.settings.status_max_age_s * _S)
        for sid, status in list(self.statuses.items()):
            if status.status_ns < horizon:
                del self.statuses[sid]
        for sid, status in sorted(self.statuses.items()):
            products = tuple(p for p, _ in status.position)
            with contextlib.suppress(Exception):  # an unreadable spec falls back to the status
                entry = await self._specs.get(sid)
                if entry is not None:
                    if entry.value.venue != self.venue:
                        continue
                    products = entry.value.products
            if products:
                out.append(
                    InstanceView(strategy_id=sid, state=status.state, detail=status.detail, products=products)
                )
        return out

    def _remember(self, sid: str, state: str, detail: str) -> None:
        """A strategy's answer is fresher than its last status."""
        status = self.statuses.get(sid)
        if status is not None and state:
            self.statuses[sid] = StrategyStatus(
                strategy_id=sid,
                kind=status.kind,
                worker_id=status.worker_id,
                state=state,
                position=status.position,
                last_signal=status.last_signal,
                detail=detail,
                status_ns=self._clock(),
            )

    async def _save(self, venue: VenueSnapshot, memory: Memory, now: int, unpublished_ns: int | None) -> None:
        """Advance the fills cursor past fills now on the bus (or published this cycle), never past
        one whose publish failed; keep the baseline and the clocks."""
        cutoff = now - int(self.settings.fill_grace_s * _S)
        if unpublished_ns is not None:
            cutoff = min(cutoff, unpublished_ns - 1)
        handled = [f.time_ns for f in venue.fills if f.time_ns <= cutoff]
        cursor = max([self.state.fills_cursor_ns, *handled])
        self.state = ReconState(
            fills_cursor_ns=cursor,
            baseline=dict(memory.baseline) if memory.baseline is not None else None,
            reconciling_since=dict(memory.reconciling_since),
            unhedged_since=dict(memory.unhedged_since),
        )
        assert self._store is not None
        await self._store.save(self.state)

    def _report(self, outcome: Outcome, escalated: Outcome, done: list[str]) -> ReconReport:
        return ReconReport(
            venue=self.venue,
            cycle=self.cycles,
            compared={**outcome.compared, **escalated.compared},
            findings=outcome.findings + escalated.findings,
            actions=tuple(done),
            report_ns=self._clock(),
        )

    def _account(self, report: ReconReport, started: float) -> None:
        for finding in report.findings:
            metrics.FINDINGS.labels(finding.kind).inc()
            _log.warning(
                "recon_finding",
                kind=finding.kind,
                product_id=finding.product_id,
                strategy_id=finding.strategy_id,
                detail=finding.detail,
            )
        metrics.CYCLE_SECONDS.observe(time.perf_counter() - started)
        metrics.LAST_CYCLE.set(time.time())
        self.last_ok_ns = self._clock()
        self.reports.append(report)
        del self.reports[:-50]
        _log.info(
            "recon_cycle", cycle=report.cycle, findings=len(report.findings), actions=len(report.actions)
        )

    async def _skipped(self, reason: str, detail: str) -> ReconReport:
        metrics.SKIPPED.labels(reason).inc()
        _log.warning("recon_cycle_skipped", reason=reason, detail=detail)
        report = ReconReport(
            venue=self.venue,
            cycle=self.cycles,
            compared={},
            findings=(ReconFinding(kind="cycle_skipped", detail=f"{reason}: {detail}"),),
            actions=(f"skipped:{reason}",),
            report_ns=self._clock(),
        )
        await self.bus.publish_durable(subjects.recon_report(self.venue), report)
        self.reports.append(report)
        return report


def build_reconciliation_service(settings: ReconSettings) -> ReconciliationService:
    """The runtime's factory. Live mode without keys is a configuration error: one line, exit 2."""
    if settings.mode == "live" and CoinbaseCredentials.from_environment() is None:
        print("reconciliation: live mode needs COINBASE_API_KEY and COINBASE_API_SECRET", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    return ReconciliationService(settings)
