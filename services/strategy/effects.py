"""The instance's I/O on the order path: publishing intents inside the decision span, and the
per-instance durable consumers of order events, fills and risk's decisions.

A tick is market data and travels untraced (no per-tick trace cost), so it has no span to link to;
when — and only when — a tick leads to intents, a short `strategy.tick` span is recorded with the
tick's receive time and the decision span links it. One trace then covers decision → risk →
execution → events and fills (the bus carries the context on every durable publish).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from opentelemetry import trace
from opentelemetry.trace import Link

from services.strategy import metrics
from shared import routing, subjects
from shared.bus import Bus, Consumer, DeliveryInfo
from shared.messages.orders import CancelRequest, Fill, OrderEvent, OrderIntent, RiskDecision
from shared.messages.strategy import StrategySpec

TickMark = tuple[str, int, int, int]
"""product, sequence, receive time (ns, wall clock), arrival at this worker (perf_counter ns)."""
_log = structlog.get_logger("strategy.effects")
_tracer = trace.get_tracer("algopioneer.strategy")


async def publish_intents(
    bus: Bus, spec: StrategySpec, intents: tuple[OrderIntent, ...], reason: str, tick: TickMark | None
) -> None:
    """Store intents in INTENTS, de-duplicated by client order id, inside `strategy.decide`."""
    links = []
    if tick is not None:
        tick_span = _tracer.start_span(
            "strategy.tick", start_time=tick[2], attributes={"md.product_id": tick[0], "md.sequence": tick[1]}
        )
        tick_span.end()
        links.append(Link(tick_span.get_span_context()))
    attributes = {"strategy.id": spec.id, "strategy.kind": spec.kind, "strategy.reason": reason}
    with _tracer.start_as_current_span("strategy.decide", links=links, attributes=attributes):
        # Sent in order on one connection, acks awaited together: both legs of a pair leave in one
        # round trip. A failure raises after all finished; the snapshot's `unsent` re-sends them
        # (the stream de-duplicates by client order id).
        await asyncio.gather(
            *(
                bus.publish_durable(subjects.intent(spec.id), intent, msg_id=intent.client_order_id)
                for intent in intents
            )
        )
        for intent in intents:
            metrics.INTENTS.labels(intent.purpose.value).inc()
    if tick is not None:
        metrics.TICK_TO_INTENT.observe((time.perf_counter_ns() - tick[3]) / 1e9)
    _log.info(
        "intents_published",
        strategy_id=spec.id,
        client_order_ids=[i.client_order_id for i in intents],
        seqs=[i.intent_seq for i in intents],
    )


async def publish_cancels(
    bus: Bus, spec: StrategySpec, client_order_ids: tuple[str, ...], *, attempt: int = 0
) -> None:
    """Ask execution to cancel resting orders of this instance: one request per order on
    `orders.cancel.<order venue>.<strategy>`, stored in CANCELS under `cancel:<client order id>` so
    a re-sent cancel (a retry, a restart) is stored once within the stream's de-duplication window
    (10 minutes); a deliberate new try at the same order passes its `attempt` number. Execution
    cancels only orders recorded for the subject's strategy; one it has not placed yet is answered
    `CANCELLED` instead of placed."""
    if not client_order_ids:
        return
    subject = subjects.strategy_cancel(spec.order_venue, spec.id)
    now = time.time_ns()
    await asyncio.gather(
        *(
            bus.publish_durable(
                subject,
                CancelRequest(
                    venue=spec.order_venue,
                    client_order_ids=(coid,),
                    strategy_id=spec.id,
                    reason="strategy",
                    requested_ns=now,
                ),
                msg_id=f"cancel:{coid}" if not attempt else f"cancel:{coid}:{attempt}",
            )
            for coid in client_order_ids
        )
    )
    _log.info("cancels_published", strategy_id=spec.id, client_order_ids=list(client_order_ids))


def events_durable(strategy_id: str) -> str:
    """Durable consumer name of an instance's order events."""
    return f"strategy-{strategy_id}-events"


def fills_durable(strategy_id: str, venue: str) -> str:
    """Durable consumer name of an instance's fills on one execution venue. The venue is part of
    the name because an existing durable keeps the filter it was created with: an instance whose
    mode changed must not go on listening to the fills of its old venue. A live venue keeps the
    name its durable always had: a new durable replays the stream, which would apply old fills twice."""
    name = f"strategy-{strategy_id}-fills"
    return name if routing.mode_of(venue) == routing.LIVE else f"{name}-{subjects.token(venue)}"


def decisions_durable(strategy_id: str) -> str:
    """Durable consumer name of risk's decisions about an instance's intents."""
    return f"strategy-{strategy_id}-decisions"


async def start_consumers(
    bus: Bus,
    spec: StrategySpec,
    products: tuple[str, ...],
    ack_wait_s: float,
    on_event: Callable[[OrderEvent, DeliveryInfo], Awaitable[None]],
    on_fill: Callable[[Fill, DeliveryInfo], Awaitable[None]],
    on_decision: Callable[[RiskDecision, DeliveryInfo], Awaitable[None]],
) -> list[Consumer]:
    """One durable for the instance's order events, one for its products' fills on its order venue
    (where its orders fill: fills of the same products on another venue are not its own), one for risk's
    decisions (a refused order never gets an order event: the refusal is its only outcome).
    Durables outlive the worker: a new owner resumes at the ack floor, so nothing is lost or
    applied twice (fills are de-duplicated by trade id as well).
    A refusal of an order that is already done (a redelivery, or history replayed when the
    durable is first created) changes nothing: the engines ignore it."""
    events = await bus.consume(
        stream=subjects.STREAM_ORDER_EVENTS,
        durable=events_durable(spec.id),
        subject=subjects.order_event(subjects.ANY, spec.id),
        message_type=OrderEvent,
        handler=on_event,
        ack_wait_s=ack_wait_s,
    )
    fills = await bus.consume(
        stream=subjects.STREAM_FILLS,
        durable=fills_durable(spec.id, spec.order_venue),
        subject=subjects.fill(spec.order_venue, products[0]),
        extra_subjects=tuple(subjects.fill(spec.order_venue, p) for p in products[1:]),
        message_type=Fill,
        handler=on_fill,
        ack_wait_s=ack_wait_s,
    )
    decisions = await bus.consume(
        stream=subjects.STREAM_DECISIONS,
        durable=decisions_durable(spec.id),
        subject=subjects.decision(spec.id),
        message_type=RiskDecision,
        handler=on_decision,
        ack_wait_s=ack_wait_s,
    )
    return [events, fills, decisions]
