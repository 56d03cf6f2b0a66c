"""Decode → span → metrics → handler: the one path every delivered message takes.

Subscriptions, followed streams, work queues and request handlers differ only in what they do with
the outcome (skip, ack, nak, terminate, answer), so the counting, logging and tracing live here once.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import msgspec
import structlog
from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from shared import codec, metrics
from shared.errors import RetryLaterError

T = TypeVar("T", bound=msgspec.Struct)

MSG_ID_HEADER = "Nats-Msg-Id"
_log = structlog.get_logger("bus")
_tracer = trace.get_tracer("algopioneer.bus")


def trace_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """Inject the current trace context (if any) into the outgoing headers."""
    carrier: dict[str, str] = dict(headers) if headers else {}
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier


class Outcome(enum.Enum):
    """What became of one delivered message."""

    HANDLED = "handled"
    UNDECODABLE = "undecodable"
    FAILED = "failed"
    RETRY_LATER = "retry_later"


class Route(Generic[T]):
    """Where messages of one subscription go: their type, labels and how they are traced.

    `work_queue` routes (durable consumers) log an undecodable message as poison (it is terminated)
    and take `RetryLaterError` as "not yet" rather than as a failure. `server` routes (request
    handlers) open a SERVER span named `serve <label>`."""

    def __init__(
        self,
        subject: str,
        message_type: type[T],
        *,
        traced: bool = True,
        work_queue: bool = False,
        server: bool = False,
    ) -> None:
        self.label = metrics.stream_label(subject)
        self.stream = metrics.StreamMetrics(self.label)
        self.message_type = message_type
        self.traced = traced
        self.work_queue = work_queue
        self.server = server


async def dispatch(
    route: Route[T], msg: Msg, call: Callable[[T], Awaitable[None]]
) -> tuple[Outcome, Exception | None]:
    """Decode `msg` and run `call` on it (in a span when traced), counting and logging; one bad
    message or failing handler never reaches the caller's loop. Returns the outcome and its error."""
    stream = route.stream
    stream.received.inc()
    try:
        decoded = codec.decode(msg.data, route.message_type)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        stream.decode_errors.inc()
        if route.work_queue:
            _log.error("bus_poison_message", subject=msg.subject, error=str(exc))
        else:
            _log.warning("bus_decode_error", subject=msg.subject, error=str(exc))
        return Outcome.UNDECODABLE, exc
    started = time.perf_counter()
    try:
        if route.traced:
            with _tracer.start_as_current_span(
                f"serve {route.label}" if route.server else f"process {route.label}",
                context=propagate.extract(msg.headers or {}),
                kind=SpanKind.SERVER if route.server else SpanKind.CONSUMER,
                attributes={"messaging.system": "nats", "messaging.destination.name": msg.subject},
            ):
                await call(decoded)
        else:
            await call(decoded)
    except Exception as exc:
        if route.work_queue and isinstance(exc, RetryLaterError):
            _log.info("bus_retry_later", subject=msg.subject, reason=exc.reason)
            return Outcome.RETRY_LATER, exc
        stream.handler_errors.inc()
        _log.exception("bus_handler_error", subject=msg.subject, error=str(exc))
        return Outcome.FAILED, exc
    finally:
        stream.handler_seconds.observe(time.perf_counter() - started)
    return Outcome.HANDLED, None
