"""Operational messages: which services are alive and ready (for `algopioneer status`)."""

from __future__ import annotations

from shared.messages.base import Message


class ServiceHeartbeat(Message, frozen=True, kw_only=True):
    """Written by every service to the `services` KV bucket every few seconds (the bucket's TTL
    removes a service that stopped heartbeating). `details` is the `/ready` details as JSON."""

    service: str
    instance: str
    ready: bool
    checks: dict[str, bool]
    details_json: str = "{}"
    http_port: int = 0
    started_ns: int
    updated_ns: int
