"""One running strategy instance: a single task that owns its engine, so market data, fills, order
events and commands are applied strictly one after another (no locks, no interleaving at awaits).

Ticks arrive synchronously from the router and only mark the instance dirty; everything else
(fills, order events, refusals, the owner's commands) is queued as a typed job (`jobs.py`).
The instance knows its owner only as a `Host`: where snapshots and status go.
Order of effects on a decision: snapshot (with the new intents as `unsent`) → publish the intents
(traced: the span starts at the decision and links the tick) → signal → status.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Protocol, assert_never

import msgspec
import nats.errors
import structlog

from services.strategy import metrics
from services.strategy.build import costs_for
from services.strategy.config import StrategySettings
from services.strategy.effects import TickMark, publish_cancels, publish_intents, start_consumers
from services.strategy.engine import NOTHING, Engine, Outcome
from services.strategy.jobs import ApplyEvent, ApplyFill, ApplyRefusal, Job, Queued, RunCommand
from services.strategy.orders import build_intent
from services.strategy.router import TickRouter
from services.strategy.warmup import load_fee_rates
from shared import subjects
from shared.bus import Bus, Consumer, DeliveryInfo, Subscription
from shared.messages import ProductInfo
from shared.messages.market import BookUpdate, Ticker, Trade
from shared.messages.orders import Fill, OrderEvent, OrderIntent, RiskDecision
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import Signal, StrategySpec
from shared.sdk.api import Strategy
from shared.strategies import OrderRequest
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("strategy.instance")
_strategy_log = structlog.get_logger("strategy.user")
"""Where a strategy's own `ctx.log` lines go, tagged with its instance."""


class Host(Protocol):
    """What an instance needs from its owner: where its snapshots (compare-and-set) and status go."""

    @property
    def worker_id(self) -> str: ...

    async def save_snapshot(self, snap: InstanceSnapshot) -> None: ...

    async def publish_status(self, state: str, detail: str = "") -> None: ...


class Instance:
    """Runs one engine until `stop()`; raises whatever the engine raised (the slot restarts it)."""

    def __init__(
        self,
        host: Host,
        bus: Bus,
        router: TickRouter,
        settings: StrategySettings,
        spec: StrategySpec,
        strategy: Strategy[Any],
        engine: Engine,
        infos: dict[str, ProductInfo],
        unsent: tuple[OrderIntent, ...] = (),
    ) -> None:
        self.host, self.bus, self.router, self.settings = host, bus, router, settings
        self.spec, self.strategy, self.engine, self.infos = spec, strategy, engine, infos
        self.sid = spec.id
        self._unsent = unsent
        self._jobs: collections.deque[Queued] = collections.deque()
        self._wake = asyncio.Event()
        self._dirty = False
        self._parked = False
        """The task waits between events: a tick may run the strategy in the router's callback."""
        self._processed: tuple[Outcome, TickMark | None] | None = None
        """An outcome computed in the callback, for the task to apply before anything else."""
        self._tick: TickMark | None = None  # product, sequence, receive ns, arrival perf ns
        self._failure: BaseException | None = None
        self._stopping = False
        self._consumers: list[Consumer] = []
        self._market_subs: list[Subscription] = []
        self.last_signal = ""
        self._last_action = ""
        self._last_state = ""
        self._touched = False
        self.ticks = 0
        self.ready = asyncio.Event()

    # ---- inputs ----
    def on_ticker(self, ticker: Ticker) -> None:
        """Router callback, synchronous; a failure is raised in the instance's task.

        While the instance's task is parked between events with nothing queued, the strategy runs
        here, exactly where it would have run next in the task, and the task is woken only when the
        outcome has something to send, store or tell (most ticks have not). Otherwise the tick only
        marks the instance dirty for the task. Either way strategy code never runs while the task is
        inside an event, so events still apply strictly one after another."""
        try:
            if not self.engine.on_ticker(ticker):
                return
            self._tick = (ticker.product_id, ticker.sequence, ticker.receive_time_ns, time.perf_counter_ns())
            idle = self._parked and not self._stopping and not self._jobs and not self._dirty
            if idle and self._processed is None:
                self.ticks += 1
                self._touched = True
                outcome = self.engine.process(time.time_ns())
                if self._quiet(outcome):
                    return
                self._processed = (outcome, self._tick)
            else:
                self._dirty = True
            self._wake.set()
        except Exception as exc:
            self._failure = exc
            self._wake.set()

    async def _on_market(self, message: BookUpdate | Trade) -> None:
        """Books and public trades (only for a strategy whose `data()` asks for them)."""
        try:
            if self.engine.on_market(message):
                self._dirty = True
                self._wake.set()
        except Exception as exc:
            self._failure = exc
            self._wake.set()

    async def _subscribe_market(self) -> None:
        """Per-instance subscriptions: books conflated (only the newest top of book matters),
        trades through a bounded queue (each one is an event). Ticks go through the shared router."""
        data = self.strategy.data()
        for product in self.engine.products:
            if data.book:
                self._market_subs.append(
                    await self.bus.subscribe(
                        subjects.book(self.spec.venue, product),
                        BookUpdate,
                        self._on_market,
                        traced=False,
                        conflate=True,
                    )
                )
            if data.trades:
                self._market_subs.append(
                    await self.bus.subscribe(
                        subjects.trade(self.spec.venue, product),
                        Trade,
                        self._on_market,
                        traced=False,
                        max_pending=self.settings.tick_queue,
                    )
                )

    async def submit(self, job: Job) -> Any:
        """Queue an event or command and wait until it is applied and stored; its result."""
        if self._stopping:
            raise RuntimeError("instance is stopping")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._jobs.append(Queued(job, future))
        self._wake.set()
        return await future

    def stop(self) -> None:
        """Return from `run()` after the event in hand, with a final snapshot; queued events are
        refused (their durable consumers redeliver them to whoever runs the instance next)."""
        self._stopping = True
        self._wake.set()

    # ---- the loop ----
    async def run(self) -> None:
        """Republish unsent intents, subscribe, then apply events until stopped."""
        products = self.engine.products
        try:
            if self._unsent:
                await self._publish(self._unsent, None, None)
                self._unsent = ()
                self._touched = True
            await self._start_consumers()
            for product in products:
                await self.router.add(
                    self.spec.venue, product, self.on_ticker, every_tick=self.engine.every_tick
                )
            await self._subscribe_market()
            self.ready.set()
            await self._loop()
            await self._save()
        finally:
            # Refuse and fail queued events first: a consumer handler waiting on one must return
            # (and nak) before its consumer can stop.
            self._stopping = True
            while self._jobs:
                future = self._jobs.popleft().done
                if not future.done():
                    future.set_exception(RuntimeError("instance stopped"))
            for product in products:
                await self.router.remove(
                    self.spec.venue, product, self.on_ticker, every_tick=self.engine.every_tick
                )
            for sub in self._market_subs:
                await sub.unsubscribe()
            for consumer in self._consumers:
                await consumer.stop()

    async def _loop(self) -> None:
        s = self.settings
        pulse_s = min(0.25, s.heartbeat_interval_s)  # also the timer's resolution (exit retries)
        timer_every = int(pulse_s * 1e9)
        next_timer = next_status = next_snapshot = 0
        next_fees = time.time_ns() + int(s.fees_refresh_s * 1e9)  # read when the instance was built
        ticker = asyncio.create_task(self._pulse(pulse_s))
        try:
            await self._status("started")
            while not self._stopping:
                self._parked = True
                await self._wake.wait()
                self._parked = False
                self._wake.clear()
                if self._failure is not None:
                    raise self._failure
                await self._apply_processed()
                while self._jobs:
                    await self._job(self._jobs.popleft())
                if self._dirty:
                    self._dirty = False
                    self.ticks += 1
                    self._touched = True
                    await self._apply(self.engine.process(time.time_ns()), self._tick)
                now = time.time_ns()
                if now >= next_timer:
                    next_timer = now + timer_every
                    await self._apply(self.engine.on_timer(now), None)
                if now >= next_status:
                    next_status = now + int(s.status_interval_s * 1e9)
                    await self._status()
                if now >= next_fees:
                    next_fees = now + int(s.fees_refresh_s * 1e9)
                    await self._refresh_fees()
                if now >= next_snapshot:
                    next_snapshot = now + int(s.snapshot_interval_s * 1e9)
                    if self._touched:
                        await self._save()
            await self._apply_processed()  # decided before the stop: sent like any other decision
        finally:
            await cancel_and_wait([ticker])

    async def _apply_processed(self) -> None:
        if self._processed is not None:
            outcome, tick = self._processed
            self._processed = None
            await self._apply(outcome, tick)

    async def _pulse(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            self._wake.set()

    async def _job(self, queued: Queued) -> None:
        future = queued.done
        try:
            now = time.time_ns()
            result: Any
            match queued.job:
                case ApplyFill(fill):
                    result = await self._apply(self.engine.on_fill(fill, now), None, store=True)
                case ApplyEvent(event):
                    result = await self._apply(self.engine.on_order_event(event, now), None)
                case ApplyRefusal(decision):
                    result = await self._apply(self._refused(decision, now), None)
                case RunCommand(run):
                    result = await run()
                case unknown:
                    assert_never(unknown)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
            raise
        if not future.done():
            future.set_result(result)

    # ---- effects ----
    async def _apply(self, outcome: Outcome, tick: TickMark | None, *, store: bool = False) -> Outcome:
        """Logs → intents (rounded; unsendable ones reported back as done) → snapshot → cancels →
        publish → signal. Cancels leave before the new intents (a replace relies on it); a crash
        between the snapshot and them loses a cancel, which the strategy sees as its order still
        open (it may ask again)."""
        if not store and self._quiet(outcome):
            return outcome  # most ticks: nothing to send, store or tell
        self._log_lines(outcome)
        now = time.time_ns()
        pending: list[OrderRequest] = list(outcome.orders)
        intents: list[OrderIntent] = []
        cancels: list[str] = list(outcome.cancels)
        changed = outcome.changed or store
        while pending:
            req = pending.pop(0)
            product = self.engine.products[req.leg - 1]
            built = build_intent(self.spec, product, self.infos[product], req, now)
            if isinstance(built, str):
                metrics.UNSENDABLE.labels(built).inc()
                follow = self.engine.on_order_unsendable(req.seq, now, built)
                pending.extend(follow.orders)
                cancels.extend(follow.cancels)
                self._log_lines(follow)
                changed = True
            else:
                intents.append(built)
        self._unsent = tuple(intents)
        if intents or cancels or changed:
            await self._save()
        if cancels:
            await publish_cancels(self.bus, self.spec, tuple(cancels))
        if intents:
            await self._publish(self._unsent, outcome, tick)
            self._unsent = ()
            self._touched = True
        decision = outcome.decision
        if decision is not None and outcome.acted and (intents or decision.action.value != self._last_action):
            self._last_action = decision.action.value
            self.last_signal = f"{decision.action.value}:{decision.reason}"
            signal = Signal(
                strategy_id=self.sid,
                action=decision.action,
                value=decision.value,
                reason=decision.reason,
                signal_ns=now,
            )
            await self.bus.publish(subjects.signal(self.sid), signal, traced=False)
        if changed or self.engine.state != self._last_state:
            await self._status(outcome.reason)
        return outcome

    def _quiet(self, outcome: Outcome) -> bool:
        """Nothing to send, store, log or tell, and the state is unchanged."""
        if outcome is NOTHING:
            return self.engine.state == self._last_state
        return (
            not (outcome.orders or outcome.cancels or outcome.logs or outcome.changed or outcome.acted)
            and self.engine.state == self._last_state
        )

    def _log_lines(self, outcome: Outcome) -> None:
        for line in outcome.logs:
            _strategy_log.info(line.event, strategy_id=self.sid, **line.fields)

    async def _publish(
        self,
        intents: tuple[OrderIntent, ...],
        outcome: Outcome | None,
        tick: TickMark | None,
    ) -> None:
        reason = outcome.decision.reason if outcome is not None and outcome.decision is not None else ""
        await publish_intents(self.bus, self.spec, intents, reason, tick)

    async def apply(self, outcome: Outcome) -> Outcome:
        """Apply a command's outcome (resolve, halt) exactly like an event's."""
        return await self._apply(outcome, None, store=True)

    def snapshot(self) -> InstanceSnapshot:
        """The instance's whole state now (with intents not yet confirmed published)."""
        base = InstanceSnapshot(
            strategy_id=self.sid,
            params=self.spec.params,
            worker_id=self.host.worker_id,
            saved_ns=time.time_ns(),
            unsent=self._unsent,
            order_venue=self.spec.order_venue,
        )
        return self.engine.snapshot_into(base)

    async def _refresh_fees(self) -> None:
        """Apply the venue's current fee tier (KV `fee_rates`); an unreadable one keeps the last."""
        try:
            fees = await load_fee_rates(self.bus, self.spec.order_venue)
        except (nats.errors.Error, TimeoutError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            _log.warning("fee_rates_unreadable", strategy_id=self.sid, error=str(exc))
            return
        if fees is not None:
            self.engine.set_costs(costs_for(self.strategy, self.settings, self.infos, fees))

    async def _save(self) -> None:
        await self.host.save_snapshot(self.snapshot())
        self._touched = False

    async def _status(self, detail: str = "") -> None:
        self._last_state = self.engine.state
        await self.host.publish_status(self._last_state, detail)

    # ---- execution feedback ----
    async def _start_consumers(self) -> None:
        self._consumers = await start_consumers(
            self.bus,
            self.spec,
            self.engine.products,
            self.settings.ack_wait_s,
            self._on_event,
            self._on_fill,
            self._on_decision,
        )

    async def _on_event(self, event: OrderEvent, _: DeliveryInfo) -> None:
        if event.strategy_id == self.sid:
            await self.submit(ApplyEvent(event))

    async def _on_fill(self, fill: Fill, _: DeliveryInfo) -> None:
        if fill.strategy_id == self.sid:
            await self.submit(ApplyFill(fill))

    async def _on_decision(self, decision: RiskDecision, _: DeliveryInfo) -> None:
        """Only refusals matter: an approved order's outcome comes as order events and fills."""
        if decision.strategy_id == self.sid and not decision.approved:
            await self.submit(ApplyRefusal(decision))

    def _refused(self, decision: RiskDecision, now_ns: int) -> Outcome:
        seq = self.engine.seq_of(decision.client_order_id)
        if seq is None:
            return NOTHING
        outcome = self.engine.on_order_refused(seq, now_ns, ",".join(decision.reasons) or "refused")
        if outcome.changed:
            _log.warning(
                "order_refused_by_risk",
                strategy_id=self.sid,
                client_order_id=decision.client_order_id,
                seq=seq,
                reasons=list(decision.reasons),
                state=self.engine.state,
            )
        return outcome
