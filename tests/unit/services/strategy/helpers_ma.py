"""The built-in MA crossover through the SDK engine, and a venue that answers each of its orders at
once by a policy while checking what must hold whatever the answers: the position is the sum of the
fills, no order sequence is used twice, and the core's flag follows the position when no order is
open."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

from services.strategy.engine import Outcome
from services.strategy.sdk_engine import SdkEngine
from shared.messages.base import Side
from shared.messages.orders import OrderStatus
from shared.messages.strategy import MaCrossoverParams
from shared.money import ZERO
from shared.strategies import CostModel, MaCrossover, OrderRequest
from shared.strategies.ma_strategy import MaCrossoverStrategy
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info, tick

SID, P = "ma-1", "BTC-USD"

Ordered = tuple[int, int, Side, Decimal, str]
"""An order as a run saw it: (tick index, seq, side, size, purpose)."""


def ma_crossover_engine(
    order_size: str = "0.00123456", min_size: str = "0", interval_s: int = 1, long_window: int = 4
) -> SdkEngine:
    """An MA crossover (short window 2) on `P`, orders of `order_size` rounded to 0.0001."""
    params = MaCrossoverParams(
        product_id=P, short_window=2, long_window=long_window, interval_s=interval_s, order_size=D(order_size)
    )
    product = {P: info(P, min_size=min_size)}
    return SdkEngine.create(
        SID, MaCrossoverStrategy(params), product, CostModel(taker_bps=D(60)), timeout_s=5.0
    )


def core_of(e: SdkEngine) -> MaCrossover:
    """The signal core inside the engine's strategy."""
    strategy = e.runner.strategy
    assert isinstance(strategy, MaCrossoverStrategy)
    return strategy.core


def walk(seed: int, n: int = 600) -> list[int]:
    """A random walk of whole prices, never below 50."""
    rng = random.Random(seed)
    price, out = 100, []
    for _ in range(n):
        price = max(50, price + rng.choice((-3, -2, -1, 0, 1, 2, 3)))
        out.append(price)
    return out


class Venue:
    """Answers one engine's orders; `held` is the position the fills so far make, `states` every
    state the engine was seen in."""

    def __init__(self, e: SdkEngine, *, held: Decimal = ZERO, first_tick: int = 0) -> None:
        self.e = e
        self.held = held
        self.first_tick = first_tick
        self.last_seq = e.runner.book.next_seq - 1
        self.states: set[str] = set()

    def check(self, out: Outcome) -> Outcome:
        for o in out.orders:
            assert o.seq > self.last_seq, f"seq {o.seq} after {self.last_seq}"
            self.last_seq = o.seq
        assert self.e.positions == ((P, self.held),)
        self.states.add(self.e.state)
        if self.e.state in ("flat", "in_position"):  # no order open, nothing to reconcile
            assert core_of(self.e).position_open == (self.held > 0)
        return out

    def fill(self, o: OrderRequest, size: str, now: int) -> None:
        self.held += o.side.sign * D(size)
        self.check(self.e.on_fill(fill_of(SID, o.seq, 1, P, o.side, size), now))

    def event(self, o: OrderRequest, status: OrderStatus, filled: str, now: int) -> None:
        self.check(self.e.on_order_event(event_of(SID, o.seq, 1, P, o.side, status, filled), now))

    def run(self, prices: list[int], policy: Callable[[int], Answer]) -> list[Ordered]:
        """Two ticks a second; each order answered at once by `policy(seq)`. What was ordered."""
        orders: list[Ordered] = []
        for i, price in enumerate(prices, self.first_tick):
            now = T0 + i * SECOND // 2
            if self.e.on_ticker(tick(P, price, now)):
                for o in self.check(self.e.process(now)).orders:
                    orders.append((i, o.seq, o.side, o.size, o.purpose.value))
                    policy(o.seq)(self, o, now)
            self.check(self.e.on_timer(now))
        return orders


Answer = Callable[[Venue, OrderRequest, int], None]


def full(v: Venue, o: OrderRequest, now: int) -> None:
    v.fill(o, str(o.size), now)
    v.event(o, OrderStatus.FILLED, str(o.size), now)


def partial(v: Venue, o: OrderRequest, now: int) -> None:
    v.fill(o, "0.0005", now)
    v.event(o, OrderStatus.CANCELLED, "0.0005", now)


def event_first(v: Venue, o: OrderRequest, now: int) -> None:
    v.event(o, OrderStatus.FILLED, str(o.size), now)
    v.fill(o, str(o.size), now)


def rejected(v: Venue, o: OrderRequest, now: int) -> None:
    v.event(o, OrderStatus.REJECTED, "0", now)


def refused(v: Venue, o: OrderRequest, now: int) -> None:
    v.check(v.e.on_order_refused(o.seq, now, "KILL_SWITCH"))


def silent(v: Venue, o: OrderRequest, now: int) -> None:
    """No answer at all: the timer sends the instance to Reconciling."""


MIXED: list[Answer] = [full, partial, event_first, rejected, refused, full]
"""Order `seq` gets `MIXED[seq % 6]`."""
