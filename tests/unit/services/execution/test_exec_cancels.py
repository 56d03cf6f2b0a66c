"""What a strategy's cancel may touch: its own orders, never another's, never all of them."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

from services.execution.cancels import StrategyCancels, cancel_subjects, strategy_of
from shared import subjects
from shared.messages import CancelRequest, Order, OrderType, Side, TimeInForce

RECORDED = {"a1": "s1", "b1": "s2"}
"""The venue's records: client order id -> strategy."""


async def recorded_owner(client_order_id: str) -> str | None:
    return RECORDED.get(client_order_id)


def request(*coids: str, strategy_id: str = "", epoch: int = 0) -> CancelRequest:
    return CancelRequest(
        venue="v",
        client_order_ids=coids,
        strategy_id=strategy_id,
        requested_ns=time.time_ns(),
        epoch=epoch,
    )


def order(coid: str, strategy_id: str) -> Order:
    return Order(
        client_order_id=coid,
        strategy_id=strategy_id,
        intent_seq=1,
        leg=1,
        venue="v",
        product_id="BTC-USD",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        size=Decimal("0.1"),
        limit_price=Decimal(100),
        time_in_force=TimeInForce.GTC,
        approved_ns=time.time_ns(),
    )


def test_the_strategy_is_the_subjects_and_risks_cancels_name_none() -> None:
    assert strategy_of(subjects.strategy_cancel("coinbase-paper", "s1")) == "s1"
    assert strategy_of(subjects.cancel("coinbase-paper")) is None
    assert cancel_subjects("coinbase") == ("orders.cancel.coinbase", "orders.cancel.coinbase.*")


async def test_only_the_subjects_own_recorded_orders_are_cancelled_and_its_epoch_is_dropped() -> None:
    cancels = StrategyCancels(recorded_owner)
    # The payload claims another strategy and a halt's epoch: the subject's strategy decides.
    narrowed = await cancels.judge(request("a1", "b1", "a1", strategy_id="s2", epoch=7), "s1")
    assert narrowed is not None
    assert (narrowed.client_order_ids, narrowed.strategy_id, narrowed.epoch) == (("a1",), "s1", 0)
    assert await cancels.judge(request("b1"), "s1") is None


async def test_an_empty_list_is_never_a_cancel_all() -> None:
    assert await StrategyCancels(recorded_owner).judge(request(strategy_id="s1"), "s1") is None


async def test_a_cancel_that_overtook_its_order_is_kept_for_that_order_only() -> None:
    cancels = StrategyCancels(recorded_owner, capacity=2)
    early = str(uuid.uuid4())
    assert await cancels.judge(request(early), "s1") is None  # nothing to send to the venue yet
    assert not cancels.asked(order(early, "s2"))  # another strategy's order of that id is untouched
    await cancels.judge(request(early), "s1")
    assert cancels.asked(order(early, "s1"))
    assert not cancels.asked(order(early, "s1"))  # once
    for coid in ("x", "y", "z"):  # bounded: the oldest is forgotten
        await cancels.judge(request(coid), "s1")
    assert not cancels.asked(order("x", "s1"))
    assert cancels.asked(order("z", "s1"))
