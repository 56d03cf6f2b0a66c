"""What an instance's task applies, one at a time and in arrival order: a typed job per kind.

Each job is queued with a future that resolves once it is applied *and* snapshotted, so a durable
consumer acks only what is safely stored. A command is a coroutine the owner wants run between
events (the instance does not know what commands mean; its owner does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.messages.orders import Fill, OrderEvent, RiskDecision


@dataclass(frozen=True, slots=True)
class ApplyFill:
    """A fill of one of the instance's orders (always snapshotted)."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class ApplyEvent:
    """An order event of one of the instance's orders."""

    event: OrderEvent


@dataclass(frozen=True, slots=True)
class ApplyRefusal:
    """Risk refused one of the instance's intents."""

    decision: RiskDecision


@dataclass(frozen=True, slots=True)
class RunCommand:
    """An owner's command, run inside the instance's task (serialised with its events)."""

    run: Callable[[], Awaitable[Any]]


Job = ApplyFill | ApplyEvent | ApplyRefusal | RunCommand


@dataclass(frozen=True, slots=True)
class Queued:
    """A job waiting in the instance's queue, and the future its submitter awaits."""

    job: Job
    done: asyncio.Future[Any]
