"""The reconciliation service: at start and every `interval_s`, compare the ledger with the venue,
repair what can be repaired, apply the policies, and publish a `ReconReport`; and, every
`naked_check_interval_s`, the naked-leg backstop.

It reconciles one execution venue: the market named in its settings, in its mode (`coinbase-paper`
for paper, `coinbase` for live). Thin by design: reads happen here and in the venue reader, every
decision in `core`, `instances` and `naked`, every effect in `actions`. One cycle:
venue snapshot → ledger caught up → ledger view → look up doubtful orders → `reconcile` →
publish fills, events; resolve / halt instances; corrective intents → `escalate` on what the
strategies answered → report, metrics, state (cursor, baseline, clocks) into KV `exec_state`.

The backstop works from the ledger as the followers keep it (fills are read as they arrive), the
specs and worker leases (both mirrored from KV) and the statuses, so it needs no venue read and
acts within an instance's `max_unhedged_ms` whatever the cycle is doing. Every instance corrective
(backstop or `escalate`) is decided and sent under one lock, against the ledger caught up and the
correctives sent but not read back yet: two decisions never see the same position twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec
import structlog

from services.reconciliation import core, metrics, naked
from services.reconciliation.actions import ActionRunner
from services.reconciliation.config import ReconSettings
from services.reconciliation.instances import escalate
from services.reconciliation.model import (
    Action,
    InstanceView,
    LedgerOrder,
    LedgerView,
    Memory,
    Outcome,
    PublishFill,
    SendIntent,
    VenueSnapshot,
)
from services.reconciliation.state import ReconState, StateStore
from services.reconciliation.tracker import LedgerTracker
from services.reconciliation.venues import VenueReader, VenueReadError, build_reader
from shared import codec, subjects
from shared.bus import Bus, Followed, TypedKV
from shared.config import CoinbaseCredentials
from shared.kvmirror import KvMirror
from shared.messages import (
    Purpose,
    ReconFinding,
    ReconReport,
    StrategyParams,
    StrategySpec,
    StrategyStatus,
    lease_key,
    snapshot_key,
)
from shared.messages.snapshots import InstanceSnapshot
from shared.money import ZERO
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
        self.venue = settings.execution_venue
        self._reader = reader
        self._clock = clock
        self.tracker = LedgerTracker(self.venue, clock)
        self.state = ReconState(fills_cursor_ns=0)
        self.statuses: dict[str, StrategyStatus] = {}
        self.reports: list[ReconReport] = []
        self.cycles = 0
        self.last_ok_ns = 0
        self._bus: Bus | None = None
        self._store: StateStore | None = None
        self._specs: TypedKV[StrategySpec] | None = None
        self._status_sub: Followed | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        # the naked-leg backstop
        self._spec_mirror: KvMirror | None = None
        self._lease_mirror: KvMirror | None = None
        self._snapshots: TypedKV[InstanceSnapshot] | None = None
        self._naked_task: asyncio.Task[None] | None = None
        self._corrective_lock = asyncio.Lock()
        self._sent: dict[str, LedgerOrder] = {}
        self._lease_gone: dict[str, float] = {}
        self._increments: dict[str, Decimal] = {}
        self.naked_since: dict[str, int] = {}
        self.worst_naked_s = 0.0
        self._backstop_findings: list[ReconFinding] = []
        self._backstop_done: list[str] = []

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

        # The status stream keeps each instance's latest status: after a restart every instance
        # (one left Reconciling included) is known at the first cycle, not at its next status.
        self._status_sub = await ctx.bus.follow(
            subjects.strategy_status(subjects.ANY),
            StrategyStatus,
            on_status,
            latest_only=True,
        )
        await self.tracker.start(ctx.bus)
        self._spec_mirror = KvMirror(await ctx.bus.kv_raw(subjects.KV_STRATEGY_SPECS), "specs")
        self._lease_mirror = KvMirror(await ctx.bus.kv_raw(subjects.KV_WORKER_LEASES), "leases")
        await self._spec_mirror.start()
        await self._lease_mirror.start()
        self._snapshots = await ctx.bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)
        ctx.add_ready_check("recent_cycle", self._recent)
        ctx.add_ready_detail(
            "reconciliation",
            lambda: {"mode": self.settings.mode, "cycles": self.cycles, "last_ok_ns": self.last_ok_ns},
        )
        self._task = asyncio.create_task(self._loop(), name=f"recon-{self.venue}")
        self._naked_task = asyncio.create_task(self._naked_loop(), name=f"recon-naked-{self.venue}")
        _log.info("reconciliation_started", venue=self.venue, mode=self.settings.mode)

    async def stop(self) -> None:
        """Stop at once (a cycle cut short is simply repeated: every repair is idempotent)."""
        self._stopping = True
        await cancel_and_wait([self._task, self._naked_task])
        if self._status_sub is not None:
            await self._status_sub.unsubscribe()
        for mirror in (self._spec_mirror, self._lease_mirror):
            if mirror is not None:
                await mirror.stop()
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
        self._increments.update({p: ref.base_increment for p, ref in venue.products.items()})
        ledger = self._view()
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
        async with self._corrective_lock:
            due = await self._still_due(escalated.actions, ledger)
            self._note_sent(due)
            await runner.run(due)
            self._forget_failed(runner.failed)
        unpublished = [a.fill.fill_ns for a in runner.failed if isinstance(a, PublishFill)]
        await self._save(venue, escalated.memory, now, min(unpublished, default=None))
        report = self._report(outcome, escalated, runner.done)
        await self.bus.publish_durable(subjects.recon_report(self.venue), report)
        self._account(report, started)
        return report

    async def _statuses_caught_up(self) -> bool:
        """The stream keeps one status per instance: at least that many must have been read."""
        if self._status_sub is None:  # not following yet: caught up only with nothing to read
            return not await self.bus.stored(subjects.strategy_status(subjects.ANY), latest_only=True)
        return await self._status_sub.current()

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
                    if entry.value.order_venue != self.venue:
                        continue
                    products = entry.value.products
            if products:
                out.append(
                    InstanceView(strategy_id=sid, state=status.state, detail=status.detail, products=products)
                )
        return out

    # ---- the naked-leg backstop ----
    async def _naked_loop(self) -> None:
        while not self._stopping:
            try:
                await self.check_naked()
            except Exception as exc:  # one failed check must never end the backstop
                _log.exception("naked_check_error", error=str(exc))
            await asyncio.sleep(self.settings.naked_check_interval_s)

    async def check_naked(self) -> tuple[Action, ...]:
        """One check: measure every naked leg, unwind those nobody manages. Returns what it sent."""
        async with self._corrective_lock:
            now = self._clock()
            ledger = self._view()
            holders = await self._holders(ledger)
            found = naked.plan(holders, ledger, self.naked_since, self.tracker.moved_ns, now, self.settings)
            if found.actions or found.since:
                # Judge, measure and act only on a ledger that has read every stored fill: the other
                # leg's fill may be on its way (a replay after a restart shows every entry as naked
                # for a moment).
                if not await self.tracker.caught_up(self.bus):
                    return ()
                now = self._clock()
                ledger = self._view()
                found = naked.plan(
                    holders, ledger, self.naked_since, self.tracker.moved_ns, now, self.settings
                )
            self._measure(found, now)
            if not found.actions:
                return ()
            self._note_sent(found.actions)
            runner = ActionRunner(self.bus, self.settings, self._clock)
            await runner.run(found.actions)
            self._forget_failed(runner.failed)
        for finding in found.findings:
            metrics.FINDINGS.labels(finding.kind).inc()
            _log.warning("naked_leg_unwound", strategy_id=finding.strategy_id, detail=finding.detail)
        self._backstop_findings.extend(found.findings)
        self._backstop_done.extend(runner.done)
        return found.actions

    def _measure(self, found: naked.NakedPlan, now: int) -> None:
        self.naked_since = found.since
        for ended in found.ended_ns:
            metrics.NAKED_SECONDS.observe(ended / _S)
        worst = max([naked.oldest_age_ns(found.since, now), *found.ended_ns]) / _S
        if worst > self.worst_naked_s:
            self.worst_naked_s = worst
            metrics.NAKED_MAX.set(worst)
        metrics.NAKED_OPEN.set(len(found.since))

    async def _holders(self, ledger: LedgerView) -> list[naked.Holder]:
        """Every dual-leg instance holding a position here, with who manages it now."""
        out = []
        for sid in naked.held_by(ledger, self.settings.external_strategy_id):
            holder = await self._holder(sid, ledger)
            if holder is not None:
                out.append(holder)
        return out

    async def _holder(self, sid: str, ledger: LedgerView) -> naked.Holder | None:
        """Who manages `sid` now, its legs and bound: from its spec, else its snapshot (a deleted
        spec's is kept, retired), else its last status."""
        assert self._spec_mirror is not None
        assert self._lease_mirror is not None
        raw = self._spec_mirror.entries.get(sid)
        spec: StrategySpec | None = None
        if raw is not None:
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                spec = codec.decode(raw.raw, StrategySpec)
        status = self.statuses.get(sid)
        condition = naked.condition_of(
            spec_found=raw is not None,
            enabled=spec.enabled if spec is not None else True,
            here=spec.order_venue == self.venue if spec is not None else True,
            state=status.state
            if status is not None
            else ("invalid" if raw is not None and spec is None else ""),
            lease_live=self._lease_live(sid),
        )
        params: StrategyParams | None = spec.params if spec is not None else None
        snapshot = None
        if condition is not naked.Condition.RUNNING:
            snapshot = await self._snapshot(sid)
            if params is None and snapshot is not None:
                params = snapshot.params
        limit = self.settings.default_max_unhedged_ms
        legs = naked.legs_of(params) if params is not None else None
        if legs is not None:
            products, limit = legs
        elif params is not None or status is None or status.kind not in naked.DUAL_KINDS:
            return None  # not a dual-leg instance, or nothing says what it is
        elif len(status.position) == 2:
            products = (status.position[0][0], status.position[1][0])
        else:  # a dual-leg kind whose legs nothing names: the products it holds are its legs
            held = sorted({p for (owner, p), q in ledger.positions.items() if owner == sid and q != ZERO})
            if len(held) > 2:
                return None
            products = (held[0], held[1] if len(held) == 2 else "")
        ratio = ZERO
        if snapshot is not None and snapshot.order_venue in ("", self.venue):
            ratio = naked.hedge_ratio_of(snapshot)
        tiny = naked.TINY
        return naked.Holder(
            strategy_id=sid,
            condition=condition,
            products=products,
            max_unhedged_ms=limit,
            hedge_ratio=ratio,
            increments=(self._increments.get(products[0], tiny), self._increments.get(products[1], tiny)),
        )

    def _lease_live(self, sid: str) -> bool:
        """A worker renewed the instance's lease within `lease_ttl_s` (on this process's clock), or
        the lease has been gone for less than that (a hand-over between workers is no orphan)."""
        assert self._lease_mirror is not None
        now, ttl = time.monotonic(), self.settings.lease_ttl_s
        entry = self._lease_mirror.entries.get(lease_key(sid))
        if entry is not None:
            self._lease_gone.pop(sid, None)
            return now - entry.seen <= ttl
        return now - self._lease_gone.setdefault(sid, now) <= ttl

    async def _snapshot(self, sid: str) -> InstanceSnapshot | None:
        """What the backstop reads of a snapshot: its params (kept after its spec is deleted), its
        hedge ratio, and the venue its positions are on; an unreadable one counts as absent."""
        assert self._snapshots is not None
        try:
            entry = await self._snapshots.get(snapshot_key(sid))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        return entry.value if entry is not None else None

    def _view(self) -> LedgerView:
        """The tracker's view plus the correctives sent that it has not read back yet."""
        view = self.tracker.view()
        for coid in [c for c in self._sent if c in view.orders]:
            del self._sent[coid]
        if not self._sent:
            return view
        return dataclasses.replace(view, orders={**self._sent, **view.orders})

    def _note_sent(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, SendIntent):
                i = action.intent
                self._sent[i.client_order_id] = LedgerOrder(
                    client_order_id=i.client_order_id,
                    strategy_id=i.strategy_id,
                    product_id=i.product_id,
                    side=i.side,
                    size=i.size,
                    purpose=i.purpose,
                    intent_seq=i.intent_seq,
                    leg=i.leg,
                    created_ns=i.created_ns,
                    updated_ns=i.created_ns,
                )

    def _forget_failed(self, failed: Sequence[Action]) -> None:
        """An intent whose publish failed is not on its way: the next decision may send it again."""
        for action in failed:
            if isinstance(action, SendIntent):
                self._sent.pop(action.intent.client_order_id, None)

    async def _still_due(self, actions: Sequence[Action], decided_on: LedgerView) -> list[Action]:
        """`escalate` decided on the cycle's ledger; the backstop may have traded since. An unwind
        is still sent only if the position it unwinds is unchanged (on the ledger caught up, this
        cycle's repairs included) and no corrective of that instance was sent since; otherwise the
        next cycle decides again."""
        intents = [a for a in actions if isinstance(a, SendIntent)]
        out: list[Action] = [a for a in actions if not isinstance(a, SendIntent)]
        if not intents or not await self._ledger_caught_up():
            return out
        ledger = self._view()
        newer = {
            o.strategy_id
            for o in ledger.orders.values()
            if o.purpose is Purpose.CORRECTIVE and o.client_order_id not in decided_on.orders
        }
        for action in intents:
            i = action.intent
            held = ledger.positions.get((i.strategy_id, i.product_id), ZERO)
            if i.strategy_id not in newer and held == -i.side.sign * i.size:
                out.append(action)
            else:
                _log.info("unwind_left_to_next_cycle", strategy_id=i.strategy_id, product_id=i.product_id)
        return out

    async def _ledger_caught_up(self) -> bool:
        deadline = time.monotonic() + self.settings.catch_up_timeout_s
        while not await self.tracker.caught_up(self.bus):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

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
        """This cycle's work, and what the backstop did since the last report."""
        backstop, done_before = tuple(self._backstop_findings), list(self._backstop_done)
        self._backstop_findings.clear()
        self._backstop_done.clear()
        return ReconReport(
            venue=self.venue,
            cycle=self.cycles,
            compared={**outcome.compared, **escalated.compared, "naked_legs": len(self.naked_since)},
            findings=outcome.findings + escalated.findings + backstop,
            actions=tuple(done_before + done),
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
