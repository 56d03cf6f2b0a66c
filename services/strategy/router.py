"""Ticks in: one bounded, untraced subscription per product per worker, fanned out to the
instances that trade it.

Decoding a ticker once per worker (not once per instance) is what lets one worker carry a hundred
instances; the bounded queue drops the oldest tick when the worker falls behind (the newest price
is the one that matters) and the bus counts every drop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from shared import subjects
from shared.bus import Bus, Subscription
from shared.messages.market import Ticker
from shared.quotes import usable

TickSink = Callable[[Ticker], None]
_log = structlog.get_logger("strategy.router")


class TickRouter:
    """product → subscribed sinks; subscribes on the first sink and unsubscribes after the last."""

    def __init__(self, bus: Bus, max_pending: int) -> None:
        self._bus = bus
        self._max_pending = max_pending
        self._sinks: dict[tuple[str, str], list[TickSink]] = {}
        self._subs: dict[tuple[str, str], Subscription] = {}
        self.received = 0
        self.last_tick_ns = 0

    async def add(self, venue: str, product: str, sink: TickSink) -> None:
        """Route `product`'s ticks to `sink` as well."""
        key = (venue, product)
        sinks = self._sinks.setdefault(key, [])
        sinks.append(sink)
        if key not in self._subs:

            async def deliver(ticker: Ticker, _sinks: list[TickSink] = sinks) -> None:
                if not usable(ticker):
                    return
                self.received += 1
                self.last_tick_ns = time.time_ns()
                for deliver_to in tuple(_sinks):
                    deliver_to(ticker)

            self._subs[key] = await self._bus.subscribe(
                subjects.ticker(venue, product),
                Ticker,
                deliver,
                traced=False,
                max_pending=self._max_pending,
            )

    async def remove(self, venue: str, product: str, sink: TickSink) -> None:
        """Stop routing to `sink`; the last one out unsubscribes."""
        key = (venue, product)
        sinks = self._sinks.get(key)
        if sinks is None:
            return
        if sink in sinks:
            sinks.remove(sink)
        if not sinks:
            del self._sinks[key]
            sub = self._subs.pop(key, None)
            if sub is not None:
                await sub.unsubscribe()

    @property
    def dropped(self) -> int:
        """Ticks dropped by the bounded queues so far."""
        return sum(sub.dropped for sub in self._subs.values())

    async def close(self) -> None:
        """Unsubscribe everything."""
        for sub in self._subs.values():
            await sub.unsubscribe()
        self._subs.clear()
        self._sinks.clear()
