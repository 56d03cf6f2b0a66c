"""The risk service: every intent passes here or nowhere. A thin adapter around `RiskBook`.

Start-up order matters: limits and products are loaded, saved marks restored, then the fills,
order-event and decision streams are replayed to the end *before* the first intent is consumed, so a
restarted risk decides on exactly the ledger, pending orders (its own approvals not yet answered
included), decisions and epoch it had before. Risk serves every execution venue of its markets
(`coinbase` and `coinbase-paper`) and checks each intent against the sender's spec (KV
`strategy_specs`): the subject it came on, the venue its mode routes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import msgspec
import structlog

from services.risk import metrics
from services.risk.book import RiskBook
from services.risk.config import RiskSettings
from services.risk.killswitch import KillSwitch
from services.risk.specs import SpecWatch
from services.risk.store import BREAKER_KEY, LIMITS_KEY, MARKS_KEY, STATE_KEY, Reporter, RiskStore
from shared import subjects
from shared.bus import Bus, Consumer, DeliveryInfo, Replay, Subscription, wait_all
from shared.errors import ConfigError, InvalidSubjectTokenError, RetryLaterError
from shared.ledger import LedgerError, LedgerSnapshot, MarkEntry
from shared.messages import (
    ControlCommand,
    Fill,
    OrderEvent,
    OrderIntent,
    RiskDecision,
    Ticker,
)
from shared.quotes import usable
from shared.risk import Reason
from shared.runtime import ServiceContext
from shared.tasks import cancel_and_wait

_log = structlog.get_logger("risk")
_NS = 1_000_000_000


def _whole(stream: str) -> str:
    """The subject filter that covers a whole stream."""
    return subjects.STREAM_SUBJECTS[stream][0]


class RiskService:
    """Consumes intents, decides, publishes decisions and approved orders; owns breaker and kill switch."""

    def __init__(self, settings: RiskSettings) -> None:
        self.settings = settings
        self._limits = settings.risk_limits()
        self.book = RiskBook(
            self._limits, settings.route_ids, unanswered_grace_ns=int(settings.unanswered_grace_s * _NS)
        )
        self._specs: SpecWatch | None = None
        self._bus: Bus | None = None
        self._store: RiskStore | None = None
        self._reporter: Reporter | None = None
        self._kill: KillSwitch | None = None
        self._consumer: Consumer | None = None
        self._subs: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._replays: dict[str, Replay] = {}
        self._limits_rev = 0
        self._limits_error = ""
        self._products_due = 0.0

    # ---- lifecycle ----
    async def start(self, ctx: ServiceContext) -> None:
        """Load, replay, then start deciding. Raises `TimeoutError` if the replay cannot finish."""
        bus = self._bus = ctx.bus
        self._started_ns = time.time_ns()
        store = self._store = RiskStore(bus)
        await store.open()
        self._reporter = Reporter(bus, store, int(self.settings.report_interval_s * _NS))
        await self._load_limits()
        self.book.set_products(await store.load_products())
        self._products_due = time.monotonic() + self.settings.products_refresh_s
        saved_marks = await store.marks.get(MARKS_KEY)
        if saved_marks is not None:
            self.book.restore_marks(saved_marks.value)
        await self._replay(bus)
        state, breaker = await store.state.get(STATE_KEY), await store.breaker.get(BREAKER_KEY)
        self.book.restore_state(
            None if state is None else state.value, None if breaker is None else breaker.value
        )
        specs = self._specs = SpecWatch(bus, self.book)
        await specs.start(self.settings.replay_timeout_s)
        self._kill = KillSwitch(bus, self.book, self.settings.route_ids, self._report_now)
        await self._tick()  # may trip the daily loss limit: the kill switch is ready for it
        for market in self.settings.venue_ids:
            sub = await bus.subscribe(
                subjects.ticker(market, subjects.ANY),
                Ticker,
                self._on_ticker,
                traced=False,
                conflate=True,  # only the newest mark of each product matters
            )
            self._subs.append(sub)
        control = await bus.serve(
            subjects.RISK_CONTROL, ControlCommand, self._kill.handle, refuse=self._kill.refuse
        )
        self._subs.append(control)
        self._consumer = await bus.consume(
            stream=subjects.STREAM_INTENTS,
            durable=self.settings.durable,
            subject=subjects.intent(subjects.REST),
            message_type=OrderIntent,
            handler=self._on_intent,
        )
        self._tasks = [
            asyncio.create_task(self._every(self.settings.tick_interval_s, self._tick), name="risk-tick"),
            asyncio.create_task(
                self._every(self.settings.limits_refresh_s, self._refresh), name="risk-refresh"
            ),
        ]
        ctx.add_ready_check("replayed", lambda: all(r.live for r in self._replays.values()))
        ctx.add_ready_detail("risk", self._detail)
        _log.info(
            "risk_started",
            venues=self.settings.route_ids,
            products=len(self.book.products),
            epoch=self.book.epoch,
            pending_orders=len(self.book.pending),
        )

    async def _replay(self, bus: Bus) -> None:
        """Follow fills, order events and decisions from the start; wait until history is in."""
        fills, events, decisions = (
            subjects.STREAM_FILLS,
            subjects.STREAM_ORDER_EVENTS,
            subjects.STREAM_DECISIONS,
        )
        for stream in (fills, events, decisions):
            self._replays[stream] = Replay(stream, await bus.stored(_whole(stream)))
        # The bus counts every delivery (an undecodable one too) against what each stream held.
        self._subs.append(await bus.follow(_whole(fills), Fill, self._on_fill, replay=self._replays[fills]))
        self._subs.append(
            await bus.follow(_whole(events), OrderEvent, self._on_event, replay=self._replays[events])
        )
        decided = await bus.follow(
            _whole(decisions), RiskDecision, self._on_decision, replay=self._replays[decisions]
        )
        timeout = self.settings.replay_timeout_s
        try:
            # Without every fill the ledger is wrong: refuse to start (fail closed).
            await wait_all([self._replays[fills]], timeout)
            try:
                await wait_all([self._replays[events], self._replays[decisions]], timeout)
            except TimeoutError as exc:  # e.g. an undecodable event: decide without the rest
                _log.error("risk_replay_incomplete", error=str(exc))
                for replay in self._replays.values():
                    if not replay.live:
                        replay.give_up()
        finally:
            # Decisions only rebuild the memory of what was decided; the live ones are our own.
            await decided.unsubscribe()
        _log.info("risk_replayed", **{k: r.progress() for k, r in self._replays.items()})

    async def stop(self) -> None:
        """Finish the intent in hand, stop loops and subscriptions, store the final state."""
        if self._consumer is not None:
            await self._consumer.stop()
        tasks, subs, self._tasks, self._subs, self._consumer = self._tasks, self._subs, [], [], None
        await cancel_and_wait(tasks)
        for sub in subs:
            await sub.unsubscribe()
        if self._specs is not None:
            await self._specs.stop()
        if self._reporter is not None:
            with contextlib.suppress(Exception):
                await self._report(time.time_ns(), force=True)
        _log.info("risk_stopped")

    async def _every(self, interval_s: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await step()
            except Exception as exc:  # a failed housekeeping step must not end the loop
                _log.exception("risk_housekeeping_error", error=str(exc))

    # ---- intents ----
    async def _on_intent(self, intent: OrderIntent, info: DeliveryInfo) -> None:
        """Decide (or repeat the decision for a redelivery) and publish decision, then order."""
        started = time.perf_counter()
        try:
            for part in (intent.strategy_id, intent.venue, intent.product_id):
                subjects.token(part)
        except InvalidSubjectTokenError as exc:
            _log.error("intent_unroutable", client_order_id=intent.client_order_id, error=str(exc))
            return
        sender = info.subject.rsplit(".", 1)[-1]  # orders.intent.<strategy_id>: who sent it
        if sender == intent.strategy_id:  # another sender's id is never answered with its decision
            prior = self.book.redelivered(intent, info.stream_sequence)
            if prior is not None:
                await self._publish(intent, prior)
                return
        self._wait_for_fresh_mark(intent)
        product = (intent.venue, intent.product_id)
        if intent.venue in self.book.venues and product not in self.book.products:
            assert self._store is not None
            looked_up = await self._store.product(subjects.product_key(*product))
            if looked_up is not None:
                self.book.add_product(looked_up)
        if not self.book.routes_to(intent.strategy_id, intent.venue):
            assert self._specs is not None
            await self._specs.refresh(intent.strategy_id)  # written a moment ago? read it, not the watch
        decision, _ = self.book.decide(intent, time.time_ns(), info.stream_sequence, subject_strategy=sender)
        metrics.decided(decision.approved, decision.reasons)
        if Reason.DUPLICATE_INTENT.value in decision.reasons:
            # A second message with an id already decided: its first decision stands and is not
            # repeated (subscribers would otherwise see two answers to one order).
            _log.warning("intent_duplicate", client_order_id=intent.client_order_id)
            return
        await self._publish(intent, decision)
        metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
        if not decision.approved:
            _log.info("intent_rejected", client_order_id=intent.client_order_id, reasons=decision.reasons)

    def _wait_for_fresh_mark(self, intent: OrderIntent) -> None:
        """Just after a start, intents that queued while risk was down must not be judged on marks
        restored from storage: each leg of a pair would pass or fail on whichever product ticked
        first, turning a hedged exit into a naked leg. Until the product's mark is fresh (bounded by
        `startup_grace_s`), the intent goes back to the queue instead of being refused. An intent
        already past its deadline is not held back: it is refused at once, whatever the mark."""
        now = time.time_ns()
        if now - self._started_ns > int(self.settings.startup_grace_s * _NS):
            return
        if now > self._deadline(intent):
            return
        if (intent.venue, intent.product_id) not in self.book.products:
            return  # an unknown product is refused at once; there is nothing to wait for
        mark = self.book.ledger.marks().get((intent.venue, intent.product_id))
        max_age_ns = self.book.limits.max_staleness_ms * 1_000_000
        if mark is None or now - mark.ts_ns > max_age_ns:
            raise RetryLaterError(f"waiting for a fresh mark of {intent.product_id} after start")

    def _deadline(self, intent: OrderIntent) -> int:
        """The latest an intent may still be approved: its own deadline, capped by risk's ceiling."""
        ceiling = intent.created_ns + self.book.limits.max_intent_age_ms * 1_000_000
        return min(intent.expires_ns, ceiling) if intent.expires_ns > 0 else ceiling

    async def _publish(self, intent: OrderIntent, decision: RiskDecision) -> None:
        """Decision first on the wire, then the order, their acks awaited together (one round trip).
        The approval carries the exact order sent, so a restart counts it as in flight until
        execution answers. If we crash before the order left, the redelivery finds the decision and
        sends its order; if a publish fails, the intent is nak'd and its redelivery repeats both
        under the same ids (the streams de-duplicate them), the decision taken from memory.

        The decision goes to its `strategy_id`, the sender: for an intent sent on another strategy's
        subject that is the subject's strategy, under an id of its own (the owner's id stays free)."""
        assert self._bus is not None
        coid = intent.client_order_id
        to = decision.strategy_id
        decision_id = coid if to == intent.strategy_id else f"{coid}.from.{to}"
        sends = [self._bus.publish_durable(subjects.decision(to), decision, msg_id=decision_id)]
        order = self.book.approved_order(decision, intent)
        if order is not None:
            sends.append(self._bus.publish_durable(subjects.approved(order.venue), order, msg_id=coid))
        await asyncio.gather(*sends)

    # ---- followed streams ----
    async def _on_fill(self, fill: Fill) -> None:
        try:
            self.book.apply_fill(fill)
        except LedgerError as exc:
            _log.error("fill_rejected_by_ledger", trade_id=fill.trade_id, error=str(exc))

    async def _on_event(self, event: OrderEvent) -> None:
        live = self._replays[subjects.STREAM_ORDER_EVENTS].delivery_is_live
        outcome = self.book.on_event(event, live=live, now_ns=time.time_ns())
        if outcome is not None:
            metrics.BREAKER_OUTCOMES.labels("true" if outcome else "false").inc()
            if not outcome:
                _log.warning(
                    "execution_failure",
                    client_order_id=event.client_order_id,
                    status=event.status.value,
                    reason=event.reason,
                    breaker=self.book.breaker.state.value,
                )

    async def _on_decision(self, decision: RiskDecision) -> None:
        self.book.remember(decision)

    async def _on_ticker(self, ticker: Ticker) -> None:
        if not usable(ticker):
            return
        with contextlib.suppress(LedgerError):
            self.book.mark_market(ticker.venue, ticker.product_id, ticker.mid, ticker.receive_time_ns)

    # ---- housekeeping ----
    async def _tick(self) -> None:
        now = time.time_ns()
        released = self.book.release_unanswered(now)
        if released:
            _log.warning("unanswered_approvals_released", client_order_ids=released[:20], count=len(released))
        reason = self.book.advance(now)
        if reason:
            assert self._kill is not None
            await self._kill.halted(reason, now, flatten=self.book.limits.flatten_on_halt, seq=now)
        await self._report(now)

    async def _report(self, now: int, *, force: bool = False) -> None:
        assert self._reporter is not None
        await self._reporter.state(self.book.state(now), self.book.breaker, force=force)
        marks = tuple(
            MarkEntry(venue=venue, product_id=product_id, mark=mark)
            for (venue, product_id), mark in sorted(self.book.ledger.marks().items())
        )
        await self._reporter.pnl(self.book.ledger.summary(now), LedgerSnapshot(marks=marks), force=force)

    async def _report_now(self, now: int) -> None:
        await self._report(now, force=True)

    async def _refresh(self) -> None:
        await self._load_limits()
        if time.monotonic() >= self._products_due:
            assert self._store is not None
            self.book.set_products(await self._store.load_products())
            self._products_due = time.monotonic() + self.settings.products_refresh_s

    async def _load_limits(self) -> None:
        """KV limits override the configured ones; an invalid write is logged and ignored."""
        assert self._store is not None
        try:
            entry = await self._store.limits.get(LIMITS_KEY)
        except (msgspec.DecodeError, msgspec.ValidationError, ConfigError, ValueError) as exc:
            if str(exc) != self._limits_error:
                _log.error("risk_limits_invalid", error=str(exc), kept="previous limits")
                self._limits_error = str(exc)
            return
        self._limits_error = ""
        if entry is None:
            if self._limits_rev:
                _log.warning("risk_limits_reverted", to="configured limits")
                self.book.set_limits(self._limits)
                self._limits_rev = 0
            return
        if entry.revision != self._limits_rev:
            self.book.set_limits(entry.value)
            self._limits_rev = entry.revision
            _log.warning("risk_limits_changed", revision=entry.revision)

    def _detail(self) -> dict[str, object]:
        now = time.time_ns()
        return {
            "breaker": self.book.breaker_state(now).value,
            "consecutive_failures": self.book.breaker.consecutive_failures,
            "kill_switch": self.book.kill_switch,
            "kill_reason": self.book.kill_reason,
            "epoch": self.book.epoch,
            "strategies_routed": len(self.book.routes()),
            "daily_pnl": str(self.book.daily.pnl),
            "pending_orders": len(self.book.pending),
            "products": len(self.book.products),
            "limits_revision": self._limits_rev,
            "replay": {k: r.progress() for k, r in self._replays.items()},
        }
