"""The strategy worker: owns a fair share of the portfolio's instances through KV leases.

Every `heartbeat_interval_s` it renews its presence and its leases (compare-and-set; a refused
renewal means the instance was taken over, and it is dropped without writing), applies spec
changes (deleted → stopped and retired, disabled → stopped, new revision → rebuilt), and claims or
releases instances so each live worker owns about ceil(instances / live workers). Invalid specs
are owned too, by exactly one worker, which reports their error in `StrategyStatus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import zlib
from typing import Any

import nats.errors
import structlog

from services.strategy import metrics
from services.strategy.config import StrategySettings
from services.strategy.router import TickRouter
from services.strategy.specs import decode_spec
from services.strategy.supervisor import Slot
from services.strategy.worker_context import WorkerContext
from shared import codec, subjects
from shared.bus import Bus, TypedKV
from shared.errors import RevisionConflictError
from shared.kvmirror import KvMirror
from shared.messages import WORKER_PREFIX, InstanceLease, WorkerPresence, lease_key, worker_key
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import StrategySpec
from shared.runtime import ServiceContext
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("strategy")


class StrategyService:
    """One strategy worker (run it as many times as you like)."""

    def __init__(self, settings: StrategySettings) -> None:
        self.settings = settings
        self.worker_id = settings.resolved_worker_id
        self.slots: dict[str, Slot] = {}
        self.fair_share = 0
        self.live_workers = 1
        self._task: asyncio.Task[None] | None = None
        self._over_since: float | None = None
        self._ctx: WorkerContext | None = None
        self.bus: Bus | None = None
        # One bucket, two record types: a typed view of each over the same bucket.
        self._lease_kv: TypedKV[InstanceLease] | None = None
        self._presence_kv: TypedKV[WorkerPresence] | None = None
        self._specs: KvMirror | None = None
        self._leases: KvMirror | None = None

    # ---- Service protocol ----
    async def start(self, ctx: ServiceContext) -> None:
        """Mirror specs and leases, announce this worker, start the ownership loop."""
        bus = self.bus = ctx.bus
        self._lease_kv = await bus.kv(subjects.KV_WORKER_LEASES, InstanceLease)
        self._presence_kv = await bus.kv(subjects.KV_WORKER_LEASES, WorkerPresence)
        self._specs = KvMirror(await bus.kv_raw(subjects.KV_STRATEGY_SPECS), "specs")
        self._leases = KvMirror(await bus.kv_raw(subjects.KV_WORKER_LEASES), "leases")
        await self._specs.start()
        await self._leases.start()
        router = TickRouter(bus, self.settings.tick_queue)
        snapshots = await bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot)
        self._ctx = WorkerContext(bus, self.settings, self.worker_id, router, snapshots)
        await self._presence()
        ctx.add_ready_check("kv_mirrors", lambda: self._mirrors_ready)
        ctx.add_ready_detail("strategy", self.detail)
        self._task = asyncio.create_task(self._loop(), name="strategy-worker")
        _log.info("strategy_worker_started", worker_id=self.worker_id)

    async def stop(self) -> None:
        """Hand everything back: final snapshots, leases deleted (peers take over at once)."""
        await self._cancel_loop()
        if self._ctx is not None:
            await self._ctx.router.close()  # no new ticks: the final snapshots need the connection
        for sid in list(self.slots):
            await self._release(sid)
        if self._presence_kv is not None:
            with contextlib.suppress(Exception):
                await self._presence_kv.delete(worker_key(self.worker_id))
        await self._close()
        _log.info("strategy_worker_stopped", worker_id=self.worker_id)

    async def abort(self) -> None:
        """Die without a word: no snapshot, no release (a crashed worker, for tests)."""
        await self._cancel_loop()
        for slot in self.slots.values():
            slot.abort()
        self.slots.clear()
        await self._close()

    # ---- views ----
    @property
    def _mirrors_ready(self) -> bool:
        return bool(
            self._specs and self._leases and self._specs.ready.is_set() and self._leases.ready.is_set()
        )

    def states(self) -> dict[str, str]:
        """Owned instance → its state (the engine's when running, else the slot's)."""
        out = {}
        for sid, slot in self.slots.items():
            inst = slot.instance
            running = inst is not None and inst.ready.is_set() and slot.state == "running"
            out[sid] = inst.engine.state if running and inst is not None else slot.state
        return out

    def detail(self) -> dict[str, Any]:
        """`/ready` details: who I am and what I own."""
        return {
            "worker_id": self.worker_id,
            "live_workers": self.live_workers,
            "fair_share": self.fair_share,
            "instances": self.states(),
        }

    # ---- the loop ----
    async def _loop(self) -> None:
        s = self.settings
        claim_at = time.monotonic() + (s.claim_delay_s or s.heartbeat_interval_s)
        while True:
            try:
                await self._cycle(claim=time.monotonic() >= claim_at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.exception("worker_cycle_failed", error=str(exc))
            await asyncio.sleep(s.heartbeat_interval_s)

    async def _cycle(self, *, claim: bool) -> None:
        await self._presence()
        await self._renew()
        await self._sync_specs()
        if claim:
            await self._balance()
        counts = dict.fromkeys(metrics.STATES, 0)
        for state in self.states().values():
            counts[state] = counts.get(state, 0) + 1
        for state, n in counts.items():
            metrics.INSTANCES.labels(state).set(n)

    async def _presence(self) -> None:
        assert self._presence_kv is not None
        value = WorkerPresence(worker_id=self.worker_id, owned=len(self.slots), renewed_ns=time.time_ns())
        await self._presence_kv.put(worker_key(self.worker_id), value)

    def _lease(self, sid: str) -> InstanceLease:
        now = time.time_ns()
        return InstanceLease(worker_id=self.worker_id, strategy_id=sid, acquired_ns=now, renewed_ns=now)

    async def _renew(self) -> None:
        leases = self._lease_kv
        assert leases is not None

        async def renew(sid: str, slot: Slot) -> None:
            try:
                slot.lease_rev = await leases.update(lease_key(sid), self._lease(sid), last=slot.lease_rev)
                slot.renewed = time.monotonic()
            except RevisionConflictError:
                slot.lost = True
            except (nats.errors.Error, TimeoutError) as exc:
                _log.warning("lease_renew_failed", strategy_id=sid, error=str(exc))
                # Self-fence before a peer may take over (it waits a full TTL of silence).
                silent = time.monotonic() - slot.renewed
                if silent > self.settings.lease_ttl_s - self.settings.heartbeat_interval_s:
                    slot.lost = True

        await asyncio.gather(*(renew(sid, slot) for sid, slot in self.slots.items()))
        for sid, slot in list(self.slots.items()):
            if slot.lost:
                _log.warning("lease_lost", strategy_id=sid)
                metrics.LEASES.labels("lost").inc()
                del self.slots[sid]
                await slot.drop()

    async def _sync_specs(self) -> None:
        assert self._specs is not None
        for sid, slot in list(self.slots.items()):
            entry = self._specs.entries.get(sid)
            if entry is None:
                _log.info("spec_deleted", strategy_id=sid)
                await self._release(sid, retire=True)
                continue
            if entry.revision == slot.spec_rev:
                continue
            spec = decode_spec(sid, entry.raw)
            if isinstance(spec, StrategySpec) and not spec.enabled:
                _log.info("spec_disabled", strategy_id=sid)
                await self._release(sid)
                continue
            slot.spec_rev = entry.revision
            slot.update_spec(spec)

    async def _balance(self) -> None:
        assert self._specs is not None
        assert self._leases is not None
        ttl = self.settings.lease_ttl_s
        wanted: dict[str, tuple[StrategySpec | str, int]] = {}
        for sid, entry in self._specs.entries.items():
            spec = decode_spec(sid, entry.raw)
            if isinstance(spec, str) or spec.enabled:
                wanted[sid] = (spec, entry.revision)
        mine = worker_key(self.worker_id)
        others = [
            k
            for k in self._leases.keys_with_prefix(WORKER_PREFIX)
            if k != mine and self._leases.fresh(k, ttl)
        ]
        self.live_workers = 1 + len(others)
        self.fair_share = math.ceil(len(wanted) / self.live_workers) if wanted else 0
        if len(self.slots) > self.fair_share:
            await self._shed()
            return
        self._over_since = None
        candidates = [sid for sid in wanted if sid not in self.slots and self._claimable(sid)]
        candidates.sort(key=lambda sid: zlib.crc32(f"{self.worker_id}/{sid}".encode()))
        for sid in candidates:
            if len(self.slots) >= self.fair_share:
                break
            spec, revision = wanted[sid]
            await self._claim(sid, spec, revision)

    def _claimable(self, sid: str) -> bool:
        assert self._leases is not None
        entry = self._leases.entries.get(lease_key(sid))
        if entry is None or not self._leases.fresh(lease_key(sid), self.settings.lease_ttl_s):
            return True
        # A lease in my own name without a slot: this worker restarted with the same id.
        return codec.decode(entry.raw, InstanceLease).worker_id == self.worker_id

    async def _claim(self, sid: str, spec: StrategySpec | str, spec_rev: int) -> None:
        assert self._leases is not None
        assert self._lease_kv is not None
        assert self._ctx is not None
        key, value = lease_key(sid), self._lease(sid)
        known = self._leases.entries.get(key)
        try:
            if known is None:
                revision = await self._lease_kv.create(key, value)
            else:
                try:
                    revision = await self._lease_kv.update(key, value, last=known.revision)
                except RevisionConflictError:
                    revision = await self._lease_kv.create(key, value)  # expired by the bucket TTL
        except RevisionConflictError:
            return  # another worker was faster
        self._leases.note(key, codec.encode(value), revision)
        metrics.LEASES.labels("taken_over" if known is not None else "acquired").inc()
        _log.info("instance_claimed", strategy_id=sid, taken_over=known is not None)
        slot = Slot(self._ctx, sid, spec, revision)
        slot.spec_rev = spec_rev
        self.slots[sid] = slot
        await slot.start()

    async def _shed(self) -> None:
        """Give back the excess (newest first) once it has lasted a lease TTL (peers settle first)."""
        now = time.monotonic()
        if self._over_since is None:
            self._over_since = now
            return
        if now - self._over_since < self.settings.lease_ttl_s:
            return
        self._over_since = None
        newest = sorted(self.slots, key=lambda sid: self.slots[sid].acquired, reverse=True)
        for sid in newest[: len(self.slots) - self.fair_share]:
            _log.info("instance_shed", strategy_id=sid, fair_share=self.fair_share)
            await self._release(sid)

    async def _release(self, sid: str, *, retire: bool = False) -> None:
        slot = self.slots.pop(sid, None)
        if slot is None:
            return
        await slot.stop(retire=retire)
        if not slot.lost and self._lease_kv is not None:
            with contextlib.suppress(nats.errors.Error, RevisionConflictError):
                await self._lease_kv.delete(lease_key(sid), last=slot.lease_rev)
            metrics.LEASES.labels("released").inc()

    async def _cancel_loop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None

    async def _close(self) -> None:
        for mirror in (self._specs, self._leases):
            if mirror is not None:
                await mirror.stop()
        if self._ctx is not None:
            await self._ctx.router.close()
