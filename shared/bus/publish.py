"""Sending: fire-and-forget publish, durable (acked, de-duplicated) publish, typed request."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext, api

from shared import codec, metrics
from shared.bus.dispatch import MSG_ID_HEADER, trace_headers

R = TypeVar("R", bound=msgspec.Struct)


async def publish(
    nc: NATS, subject: str, message: msgspec.Struct, *, traced: bool, headers: dict[str, str] | None
) -> None:
    """Core NATS publish; untraced (market data) skips the trace-context cost per tick."""
    hdrs = trace_headers(headers) if traced else headers
    await nc.publish(subject, codec.encode(message), headers=hdrs or None)
    metrics.published(subject).inc()


async def publish_durable(
    js: JetStreamContext,
    subject: str,
    message: msgspec.Struct,
    *,
    msg_id: str | None,
    traced: bool,
    timeout: float,
) -> api.PubAck:
    """Publish to a stream and wait for the ack; `msg_id` lets the stream store a repeat once."""
    headers: dict[str, str] = {MSG_ID_HEADER: msg_id} if msg_id else {}
    hdrs = trace_headers(headers) if traced else headers
    ack = await js.publish(subject, codec.encode(message), timeout=timeout, headers=hdrs or None)
    metrics.published(subject).inc()
    return ack


async def request(
    nc: NATS, subject: str, message: msgspec.Struct, reply_type: type[R], *, timeout: float
) -> R:
    """Request/reply with a typed answer; raises `TimeoutError` or `nats.errors.NoRespondersError`."""
    reply = await nc.request(subject, codec.encode(message), timeout=timeout, headers=trace_headers(None))
    return codec.decode(reply.data, reply_type)
