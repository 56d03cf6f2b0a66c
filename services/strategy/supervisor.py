"""A slot: one owned instance under supervision. It outlives crashes of the instance it runs.

An instance that raises is rebuilt from its last snapshot after a backoff (doubling, with jitter);
after `restart_budget` failures within `restart_window_s` it is Halted with the reason and waits for
a `restart` command or a new spec revision — the worker and the other instances carry on (the
original respawned forever, every second, with no limit). A slot whose snapshot write is refused
(compare-and-set) has lost its lease to another worker and stops at once, without writing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from typing import Any

import msgspec
import structlog

from services.strategy import metrics
from services.strategy.build import build_engine, strategy_for
from services.strategy.commands import handle_command
from services.strategy.instance import Instance
from services.strategy.jobs import RunCommand
from services.strategy.warmup import fetch_history, load_fee_rates, load_products
from services.strategy.worker_context import WorkerContext
from shared import subjects
from shared.errors import RevisionConflictError
from shared.messages import StrategyCommand, StrategyCommandReply, snapshot_key
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import PluginParams, StrategySpec, StrategyStatus
from shared.sdk.api import Strategy
from shared.sdk.codestore import get_code
from shared.sdk.loader import StrategyLoadError, split_dirs
from shared.tasks import finished

_log = structlog.get_logger("strategy.supervisor")


class LeaseLostError(Exception):
    """Another worker owns this instance now: stop without writing anything."""


class Slot:
    """Supervises one instance owned by this worker."""

    def __init__(self, ctx: WorkerContext, sid: str, spec: StrategySpec | str, lease_rev: int) -> None:
        self.ctx = ctx
        self.sid = sid
        self.worker_id = ctx.worker_id
        self.spec = spec
        self.lease_rev = lease_rev
        self.spec_rev = 0
        self.acquired = time.monotonic()
        self.renewed = self.acquired
        self.state = "starting"
        self.detail = ""
        self.instance: Instance | None = None
        self.lost = False
        self._snap_rev: int | None = None
        self._snap_loaded = False
        self._failures: collections.deque[float] = collections.deque()
        self._stopping = False
        self._retire = False
        self._changed = asyncio.Event()
        self._restart_asked = False
        self._task: asyncio.Task[None] | None = None
        self._control: Any = None

    # ---- lifecycle ----
    async def start(self) -> None:
        """Answer commands and start supervising."""
        self._control = await self.ctx.bus.serve(
            subjects.strategy_control(self.sid), StrategyCommand, self._on_command
        )
        self._task = asyncio.create_task(self._supervise(), name=f"strategy-{self.sid}")

    async def stop(self, *, retire: bool = False) -> None:
        """Stop the instance (final snapshot), stop answering commands."""
        self._stopping, self._retire = True, retire
        self._changed.set()
        if self.instance is not None:
            self.instance.stop()
        if self._task is not None:
            await finished(self._task, LeaseLostError)
        if retire and not self.lost:
            await self._retire_snapshot()
        if self._control is not None:
            await self._control.unsubscribe()

    def abort(self) -> None:
        """Stop dead, writing nothing (a killed worker; tests)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()

    async def drop(self) -> None:
        """The lease went to another worker: stop at once, write nothing, stop answering commands
        (the new owner answers them now)."""
        self.lost = True
        self.abort()
        if self._task is not None:
            await finished(self._task, Exception)
        if self._control is not None:
            with contextlib.suppress(Exception):
                await self._control.unsubscribe()

    def update_spec(self, spec: StrategySpec | str) -> None:
        """A new spec revision: rebuild the instance with it (restoring the snapshot)."""
        self.spec = spec
        self._failures.clear()
        self._changed.set()
        if self.instance is not None:
            self.instance.stop()

    def restart(self) -> None:
        """Clear the restart budget of a Halted slot and run again."""
        self._failures.clear()
        self._restart_asked = True
        self._changed.set()

    # ---- supervision ----
    async def _supervise(self) -> None:
        while not self._stopping:
            self._changed.clear()
            spec = self.spec
            if isinstance(spec, str):
                await self._set("invalid", spec)
                await self._idle()
                continue
            try:
                await self._run_once(spec)
            except LeaseLostError:
                # The worker sees `lost` on its next heartbeat, drops the slot and counts it.
                self.lost, self.instance, self.state = True, None, "lost"
                _log.warning("snapshot_write_refused", strategy_id=self.sid)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.instance = None
                if self._stopping:  # e.g. the final snapshot timed out: the last stored one stands
                    _log.warning(
                        "instance_stop_failed", strategy_id=self.sid, error=f"{type(exc).__name__}: {exc}"
                    )
                    return
                await self._failed(exc)

    async def _run_once(self, spec: StrategySpec) -> None:
        snap = await self._load_snapshot()
        if snap is not None and snap.halted and not self._restart_asked:
            # Halted by supervision on this or another worker: stays so until `restart`.
            await self._set("halted", snap.halted)
            await self._idle()
            return
        self._restart_asked = False
        if snap is not None and not snap.retired and snap.order_venue not in ("", spec.order_venue):
            # The mode changed: what the snapshot holds happened on the other venue. The instance
            # starts flat on its new venue and only its order sequence carries over.
            _log.warning(
                "order_venue_changed",
                strategy_id=self.sid,
                old=snap.order_venue,
                new=spec.order_venue,
                dropped_unsent=len(snap.unsent),
            )
            snap = snap.retired_copy(self.worker_id, time.time_ns())
        infos, missing = await load_products(self.ctx.bus, spec)
        while missing and not self._stopping and not self._changed.is_set():
            await self._set(
                "waiting_products", f"no trading rules in KV products for {missing} on {spec.order_venue}"
            )
            await self._idle(self.ctx.settings.product_retry_s)
            infos, missing = await load_products(self.ctx.bus, spec)
        if missing:
            return
        try:
            strategy = await self._load_strategy(spec)
        except StrategyLoadError as exc:
            # Not a crash to retry: the same code and values fail the same way until the spec changes.
            _log.error("strategy_not_loadable", strategy_id=self.sid, error=str(exc))
            await self._set("invalid", str(exc))
            await self._idle()
            return
        fees = await load_fee_rates(self.ctx.bus, spec.order_venue)
        engine, warm = build_engine(spec, infos, self.ctx.settings, snap, fees, strategy=strategy)
        if not warm:
            history = await fetch_history(
                self.ctx.bus, spec, strategy.data(), self.ctx.settings.warmup_timeout_s
            )
            if history:
                _log.info("warmed_from_candles", strategy_id=self.sid, bars=engine.warm(history))
        unsent = snap.unsent if snap is not None and not snap.retired else ()
        instance = Instance(
            self, self.ctx.bus, self.ctx.router, self.ctx.settings, spec, strategy, engine, infos, unsent
        )
        # Fence: a write right after taking over bumps the snapshot revision, so a previous owner
        # that has not noticed yet can no longer save — and it saves before every intent it sends.
        await self.save_snapshot(instance.snapshot())
        self.instance = instance
        self.state = "running"
        _log.info("instance_started", strategy_id=self.sid, restored=snap is not None, kind=spec.kind)
        if self._stopping or self._changed.is_set():
            self.instance.stop()
        await self.instance.run()
        self.instance = None

    async def _load_strategy(self, spec: StrategySpec) -> Strategy[Any]:
        """The spec's strategy object; a plug-in file's code comes from KV `strategy_code`, so
        every worker runs exactly the source that `start` validated."""
        params = spec.params
        source = None
        if isinstance(params, PluginParams) and params.code:
            stored = await get_code(self.ctx.bus, params.code)
            if stored is None:
                raise StrategyLoadError(f"the code of {params.strategy} ({params.code[:12]}) is not stored")
            source = stored.source
        return strategy_for(spec, source=source, search_paths=split_dirs(self.ctx.settings.plugin_dirs))

    async def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        window = self.ctx.settings.restart_window_s
        self._failures.append(now)
        while self._failures and now - self._failures[0] > window:
            self._failures.popleft()
        metrics.RESTARTS.inc()
        count = len(self._failures)
        reason = f"{type(exc).__name__}: {exc}"
        _log.error("instance_failed", strategy_id=self.sid, failures=count, error=reason, exc_info=exc)
        if count >= self.ctx.settings.restart_budget:
            detail = f"restart budget exhausted ({count} failures): {reason}"
            await self._mark_halted(detail)
            await self._set("halted", detail)
            await self._idle()
            return
        s = self.ctx.settings
        delay = min(s.restart_max_s, s.restart_base_s * 2 ** (count - 1)) * random.uniform(0.8, 1.2)
        await self._set("backoff", f"restart {count} in {delay:.2f}s after {reason}")
        await self._idle(delay)

    async def _idle(self, timeout: float | None = None) -> None:
        """Wait for a spec change, a restart command or stop (publishing status while waiting)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopping and not self._changed.is_set():
            wait = self.ctx.settings.status_interval_s
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)
            if not self._changed.is_set() and (deadline is None or time.monotonic() < deadline):
                await self.publish_status(self.state, self.detail)

    async def _set(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        await self.publish_status(state, detail)

    # ---- snapshots and status (the instance's `Host`) ----
    async def _load_snapshot(self) -> InstanceSnapshot | None:
        entry = await self.ctx.snapshots.get(snapshot_key(self.sid))
        self._snap_rev = entry.revision if entry is not None else None
        self._snap_loaded = True
        return entry.value if entry is not None else None

    async def save_snapshot(self, snap: InstanceSnapshot) -> None:
        """Compare-and-set on the snapshot's revision: refused means another worker owns it now."""
        kv, key = self.ctx.snapshots, snapshot_key(self.sid)
        try:
            if self._snap_rev is None:
                self._snap_rev = await kv.create(key, snap)
            else:
                self._snap_rev = await kv.update(key, snap, last=self._snap_rev)
        except RevisionConflictError:
            raise LeaseLostError(self.sid) from None

    async def _mark_halted(self, detail: str) -> None:
        """Persist a supervision halt, so a worker that takes the instance over keeps it halted."""
        try:
            entry = await self.ctx.snapshots.get(snapshot_key(self.sid))
            if entry is not None and entry.revision == self._snap_rev:
                halted = msgspec.structs.replace(entry.value, halted=detail, saved_ns=time.time_ns())
                self._snap_rev = await self.ctx.snapshots.update(
                    snapshot_key(self.sid), halted, last=entry.revision
                )
        except Exception as exc:  # the halt still holds on this worker; only its persistence failed
            _log.warning("halt_not_persisted", strategy_id=self.sid, error=str(exc))

    async def _retire_snapshot(self) -> None:
        """Keep only the order sequence of a deleted spec. A failure leaves the last snapshot as it
        stands (the slot goes away either way), so it is logged rather than raised."""
        try:
            if not self._snap_loaded:
                await self._load_snapshot()
            entry = await self.ctx.snapshots.get(snapshot_key(self.sid))
            if entry is not None and not entry.value.retired:
                retired = entry.value.retired_copy(self.worker_id, time.time_ns())
                await self.ctx.snapshots.update(snapshot_key(self.sid), retired, last=entry.revision)
        except Exception as exc:
            _log.warning("snapshot_not_retired", strategy_id=self.sid, error=f"{type(exc).__name__}: {exc}")

    async def publish_status(self, state: str, detail: str = "") -> None:
        """`StrategyStatus` of this instance, from whichever worker owns it."""
        inst = self.instance
        spec = self.spec
        status = StrategyStatus(
            strategy_id=self.sid,
            kind=spec.kind if not isinstance(spec, str) else "invalid",
            worker_id=self.worker_id,
            state=state,
            position=inst.engine.positions if inst is not None else (),
            last_signal=inst.last_signal if inst is not None else "",
            detail=detail,
            status_ns=time.time_ns(),
        )
        with contextlib.suppress(Exception):
            await self.ctx.bus.publish(subjects.strategy_status(self.sid), status, traced=False)

    async def _on_command(self, command: StrategyCommand) -> StrategyCommandReply:
        """With a running instance the command runs inside its task (serialised with its events)."""
        inst = self.instance
        if inst is not None:
            try:
                reply: StrategyCommandReply = await inst.submit(
                    RunCommand(lambda: handle_command(self, inst, command))
                )
                return reply
            except RuntimeError:
                pass
        return await handle_command(self, None, command)
