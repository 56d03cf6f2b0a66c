"""The MA crossover through the SDK engine over long random walks, every order answered at once
(filled, partly filled, event before fill, rejected, refused, or not at all). The venue checks on
every answer that the position is the sum of the fills, that no order sequence repeats and that
the core's flag follows the position; the expected outcomes per walk are those the MA engine
before the SDK runtime gave on the same walks."""

from __future__ import annotations

import pytest

from services.strategy.build import build_engine
from services.strategy.config import StrategySettings
from services.strategy.sdk_engine import SdkEngine
from shared.messages.base import Side
from shared.messages.orders import OrderStatus, client_order_id
from shared.messages.snapshots import InstanceSnapshot, MaBook, PendingOrder
from shared.messages.strategy import StrategySpec
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info
from tests.unit.services.strategy.helpers_ma import (
    MIXED,
    SID,
    Answer,
    P,
    Venue,
    core_of,
    full,
    ma_crossover_engine,
    silent,
    walk,
)

BUY, SELL = Side.BUY, Side.SELL
EVERY_STATE = {"flat", "entering", "in_position", "exiting"}

# (seed, answers): orders sent, the last one, the position at the end, the state at the end
RUNS = [
    (1, "fill", 69, (596, 69, BUY, D("0.0012"), "entry"), D("0.0012"), "in_position"),
    (2, "fill", 47, (596, 47, BUY, D("0.0012"), "entry"), D("0.0012"), "in_position"),
    (3, "fill", 59, (590, 59, BUY, D("0.0012"), "entry"), D("0.0012"), "in_position"),
    (4, "fill", 66, (598, 66, SELL, D("0.0012"), "exit"), D(0), "flat"),
    (1, "mixed", 55, (596, 55, BUY, D("0.0012"), "entry"), D("0.0005"), "in_position"),
    (2, "mixed", 37, (596, 37, BUY, D("0.0012"), "entry"), D("0.0005"), "in_position"),
    (3, "mixed", 53, (590, 53, BUY, D("0.0012"), "entry"), D("0.0012"), "in_position"),
    (4, "mixed", 57, (590, 57, BUY, D("0.0012"), "entry"), D(0), "flat"),
]


@pytest.mark.parametrize(("seed", "mode", "count", "last", "position", "state"), RUNS)
def test_random_walks_order_as_expected(
    seed: int, mode: str, count: int, last: tuple[object, ...], position: D, state: str
) -> None:
    e = ma_crossover_engine()
    venue = Venue(e)

    def policy(seq: int) -> Answer:
        return full if mode == "fill" else MIXED[seq % len(MIXED)]

    orders = venue.run(walk(seed), policy)
    assert [seq for _, seq, *_ in orders] == list(range(1, count + 1))
    assert (len(orders), orders[-1], e.positions, e.state) == (count, last, ((P, position),), state)
    assert venue.states == EVERY_STATE
    assert [(side, purpose) for _, _, side, _, purpose in orders[:2]] == [(BUY, "entry"), (SELL, "exit")]


def test_an_order_without_outcome_sends_it_to_reconciling_and_resolve_brings_it_back() -> None:
    e = ma_crossover_engine()
    venue = Venue(e)
    prices = walk(1)
    assert venue.run(prices[:200], lambda seq: silent) == [(12, 1, BUY, D("0.0012"), "entry")]
    assert e.state == "reconciling"
    e.resolve(T0, (D("0.0012"),), (), "recon")
    venue.held = D("0.0012")
    assert e.state == "in_position"
    venue.first_tick = 200
    rest = venue.run(prices[200:], lambda seq: full)
    assert rest[:2] == [(214, 2, SELL, D("0.0012"), "exit"), (222, 3, BUY, D("0.0012"), "entry")]
    assert (len(rest), rest[-1], e.state) == (46, (596, 47, BUY, D("0.0012"), "entry"), "in_position")


def test_a_close_while_an_earlier_exit_is_unanswered_sells_only_the_rest() -> None:
    """A death cross while the previous sell (16 here) has no outcome yet: `ctx.close` counts that
    sell as done, so nothing more is sold and a late fill of it cannot leave the instance short."""
    e = ma_crossover_engine()
    orders = Venue(e).run(walk(1)[:179], lambda seq: silent if seq == 16 else full)
    assert [(seq, side, size) for _, seq, side, size, _ in orders[-3:]] == [
        (16, SELL, D("0.0012")),
        (17, BUY, D("0.0012")),
        (18, SELL, D("0.0012")),
    ]
    assert (e.positions, e.state) == (((P, D("0.0012")),), "exiting")


def test_an_instance_saved_before_the_sdk_runtime_carries_on() -> None:
    """A snapshot with `ma`/`ma_book` (the MA engine before the SDK runtime), saved while its third
    order had no outcome yet: the position, the pending order (its fill is recognised), the
    sequence and the core carry over, and it trades on as that engine did."""
    prices, at = walk(2), 88  # the tick of the third order
    first = ma_crossover_engine()
    Venue(first).run(prices[: at + 1], lambda seq: silent if seq == 3 else full)
    core = core_of(first)
    legacy = InstanceSnapshot(
        strategy_id=SID,
        params=core.params,
        worker_id="w",
        saved_ns=0,
        ma=core.snapshot(),
        ma_book=MaBook(
            position=D(0),
            next_seq=4,
            pending=[PendingOrder(seq=3, side="BUY", size=D("0.0012"), sent_ns=T0 + at * SECOND // 2)],
            seen_trades=[f"{SID}-1-1-0.0012", f"{SID}-2-1-0.0012"],
        ),
    )
    spec = StrategySpec(id=SID, params=core.params)
    e, warm = build_engine(spec, {P: info(P)}, StrategySettings(), legacy)
    assert isinstance(e, SdkEngine)
    assert warm
    assert (e.positions, e.state, e.seq_of(client_order_id(SID, 3, 1))) == (((P, D(0)),), "entering", 3)
    assert core_of(e).snapshot() == core.snapshot()
    now = T0 + at * SECOND // 2
    assert e.on_fill(fill_of(SID, 2, 1, P, SELL, "0.0012"), now).reason == "duplicate_fill"
    e.on_fill(fill_of(SID, 3, 1, P, BUY, "0.0012"), now)
    e.on_order_event(event_of(SID, 3, 1, P, BUY, OrderStatus.FILLED, "0.0012"), now)
    assert (e.positions, e.state) == (((P, D("0.0012")),), "in_position")
    rest = Venue(e, held=D("0.0012"), first_tick=at + 1).run(prices[at + 1 :], lambda seq: full)
    assert rest[:2] == [(142, 4, SELL, D("0.0012"), "exit"), (152, 5, BUY, D("0.0012"), "entry")]
    assert (len(rest), rest[-1], e.state) == (44, (596, 47, BUY, D("0.0012"), "entry"), "in_position")
