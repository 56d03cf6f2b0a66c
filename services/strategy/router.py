"""Ticks in: one bounded, untraced subscription per product per worker, fanned out to the
instances that trade it.

Decoding a ticker once per worker (not once per instance) is what lets one worker carry a hundred
instances; when the worker falls behind, ticks are dropped (the newest price is the one that
matters: conflated, or the oldest first from a bounded queue) and the bus counts every drop.
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
    """product → subscribed sinks; subscribes on the first sink and unsubscribes after the last.

    A product whose sinks all act on the latest quote (dual-leg instances price latest against
    latest) is subscribed *conflated*: a worker that falls behind finds only its newest tick, never
    a queue of stale ones in front of a trigger. As soon as one sink needs every tick (an MA
    instance builds bars from them) the product is subscribed with the bounded queue instead."""

    def __init__(self, bus: Bus, max_pending: int) -> None:
        self._bus = bus
        self._max_pending = max_pending
        self._sinks: dict[tuple[str, str], list[TickSink]] = {}
        self._every_tick: dict[tuple[str, str], int] = {}
        self._subs: dict[tuple[str, str], Subscription] = {}
        self._conflated: dict[tuple[str, str], bool] = {}
        self.received = 0
        self.last_tick_ns = 0

    async def add(self, venue: str, product: str, sink: TickSink, *, every_tick: bool = True) -> None:
        """Route `product`'s ticks to `sink` as well (`every_tick`: it must not miss one)."""
        key = (venue, product)
        self._sinks.setdefault(key, []).append(sink)
        self._every_tick[key] = self._every_tick.get(key, 0) + every_tick
        conflate = self._every_tick[key] == 0
        if key in self._subs and self._conflated[key] != conflate:
            await self._subs.pop(key).unsubscribe()  # an every-tick sink joined a conflated product
        if key not in self._subs:
            await self._subscribe(key, conflate)

    async def _subscribe(self, key: tuple[str, str], conflate: bool) -> None:
        sinks = self._sinks[key]

        async def deliver(ticker: Ticker, _sinks: list[TickSink] = sinks) -> None:
            if not usable(ticker):
                return
            self.received += 1
            self.last_tick_ns = time.time_ns()
            for deliver_to in tuple(_sinks):
                deliver_to(ticker)

        self._subs[key] = await self._bus.subscribe(
            subjects.ticker(*key),
            Ticker,
            deliver,
            traced=False,
            max_pending=None if conflate else self._max_pending,
            conflate=conflate,
        )
        self._conflated[key] = conflate

    async def remove(self, venue: str, product: str, sink: TickSink, *, every_tick: bool = True) -> None:
        """Stop routing to `sink`; the last one out unsubscribes."""
        key = (venue, product)
        sinks = self._sinks.get(key)
        if sinks is None:
            return
        if sink in sinks:
            sinks.remove(sink)
            self._every_tick[key] -= every_tick
        if not sinks:
            del self._sinks[key]
            del self._every_tick[key]
            self._conflated.pop(key, None)
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
