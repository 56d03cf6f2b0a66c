"""Durable pull consumers: typed work-queue loops that ack only after the handler succeeded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from shared.bus.dispatch import MSG_ID_HEADER, Outcome, Route, dispatch
from shared.errors import RetryLaterError
from shared.tasks import finished

T = TypeVar("T", bound=msgspec.Struct)
_log = structlog.get_logger("bus")


class DeliveryInfo(msgspec.Struct, frozen=True):
    """What a work-queue handler may need to know about the delivery (redeliveries in particular)."""

    subject: str
    num_delivered: int
    stream_sequence: int
    msg_id: str


class Consumer:
    """A running durable pull-consumer loop; `stop()` lets the message in hand finish first."""

    def __init__(self, psub: JetStreamContext.PullSubscription) -> None:
        self._psub = psub
        self.stopping = asyncio.Event()
        self.busy = False
        self.task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        """Finish the message in hand (never cut a handler short), then stop fetching."""
        self.stopping.set()
        if self.task is not None:
            if not self.busy:
                self.task.cancel()
            await finished(self.task)
        with contextlib.suppress(Exception):
            await self._psub.unsubscribe()


def _delivery(msg: Msg) -> DeliveryInfo:
    meta = msg.metadata
    return DeliveryInfo(
        subject=msg.subject,
        num_delivered=meta.num_delivered,
        stream_sequence=meta.sequence.stream,
        msg_id=(msg.headers or {}).get(MSG_ID_HEADER, ""),
    )


async def _settle(msg: Msg, outcome: Outcome, error: Exception | None, retry_delay_s: float) -> None:
    """Ack a handled message, nak a failed or postponed one, terminate poison (it never decodes)."""
    if outcome is Outcome.HANDLED:
        await msg.ack()
    elif outcome is Outcome.UNDECODABLE:
        await msg.term()
    else:
        delay = error.delay_s if isinstance(error, RetryLaterError) else retry_delay_s
        with contextlib.suppress(Exception):
            await msg.nak(delay=delay)


async def consume(
    js: JetStreamContext,
    *,
    stream: str,
    durable: str,
    subject: str,
    message_type: type[T],
    handler: Callable[[T, DeliveryInfo], Awaitable[None]],
    extra_subjects: tuple[str, ...],
    new_only: bool,
    batch: int,
    ack_wait_s: float,
    max_deliver: int,
    retry_delay_s: float,
) -> Consumer:
    """Start the fetch loop of one durable; see `Bus.consume` for the delivery rules."""
    filters = [subject, *extra_subjects]
    config = api.ConsumerConfig(
        durable_name=durable,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.NEW if new_only else api.DeliverPolicy.ALL,
        ack_wait=ack_wait_s,
        max_deliver=max_deliver,
        filter_subject=subject if not extra_subjects else None,
        filter_subjects=filters if extra_subjects else None,
    )
    psub = await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
    route = Route(subject, message_type, work_queue=True)
    consumer = Consumer(psub)

    async def handle(msg: Msg) -> None:
        async def call(decoded: T) -> None:
            await handler(decoded, _delivery(msg))

        outcome, error = await dispatch(route, msg, call)
        await _settle(msg, outcome, error, retry_delay_s)

    async def loop() -> None:
        while not consumer.stopping.is_set():
            try:
                msgs = await psub.fetch(batch, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
                return
            except nats.errors.Error as exc:
                _log.warning("bus_fetch_error", subject=subject, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            consumer.busy = True
            try:
                for msg in msgs:
                    await handle(msg)
            finally:
                consumer.busy = False

    consumer.task = asyncio.create_task(loop(), name=f"bus-consume-{durable}")
    return consumer


async def backlog(js: JetStreamContext, stream: str, durable: str) -> int:
    """Messages a durable has yet to deliver or to see acked (0: it has nothing left to do)."""
    info = await js.consumer_info(stream, durable)
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
