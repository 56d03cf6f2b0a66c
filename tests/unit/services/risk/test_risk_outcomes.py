"""What order events mean to the risk service: breaker outcomes and pending exposure."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from services.risk.outcomes import OutcomeMemory, PendingOrders, breaker_outcome, reject_code
from shared.ledger import PositionKey
from shared.messages import Order, OrderEvent, OrderStatus, OrderType, Side

D = Decimal


def event(
    status: OrderStatus, reason: str = "", *, coid: str = "c1", side: Side = Side.BUY, filled: str = "0"
) -> OrderEvent:
    return OrderEvent(
        client_order_id=coid,
        strategy_id="s1",
        venue="coinbase",
        product_id="BTC-USD",
        side=side,
        status=status,
        size=D("1"),
        filled_size=D(filled),
        reason=reason,
        event_ns=1,
    )


def order(coid: str, side: Side = Side.BUY, size: str = "1") -> Order:
    return Order(
        client_order_id=coid,
        strategy_id="s1",
        intent_seq=1,
        leg=0,
        venue="coinbase",
        product_id="BTC-USD",
        side=side,
        order_type=OrderType.MARKET,
        size=D(size),
        approved_ns=1,
    )


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (OrderStatus.ACCEPTED, "", True),
        (OrderStatus.FILLED, "", True),
        (OrderStatus.PARTIALLY_FILLED, "", True),
        (OrderStatus.CANCELLED, "", True),
        (OrderStatus.EXPIRED, "", True),
        (OrderStatus.UNKNOWN, "", False),
        (OrderStatus.UNKNOWN, "INSUFFICIENT_FUND", False),  # unknown is always a failure
        (OrderStatus.REJECTED, "INSUFFICIENT_FUND: not enough USD", True),
        (OrderStatus.REJECTED, "INVALID_LIMIT_PRICE_POST_ONLY", True),
        (OrderStatus.REJECTED, "invalid_size_precision: x", True),
        (OrderStatus.REJECTED, "PREVIEW_INVALID_ORDER_CONFIG", True),
        (OrderStatus.REJECTED, "DUPLICATE_CLIENT_ORDER_ID", True),
        (OrderStatus.REJECTED, "UNKNOWN_FAILURE_REASON", False),
        (OrderStatus.REJECTED, "HTTP_401", False),
        (OrderStatus.REJECTED, "WRONG_VENUE", False),
        (OrderStatus.REJECTED, "ORDER_ENTRY_DISABLED", False),
        (OrderStatus.REJECTED, "timeout after 5s", False),
        (OrderStatus.REJECTED, "", False),  # an unexplained reject fails safe
    ],
)
def test_breaker_outcome_of_each_event(status: OrderStatus, reason: str, outcome: bool) -> None:
    assert breaker_outcome(event(status, reason)) is outcome


def test_reject_code_is_the_leading_token() -> None:
    assert reject_code("  insufficient_fund: no") == "INSUFFICIENT_FUND"
    assert reject_code(": nothing") == ""


def test_only_the_first_decisive_event_of_an_order_is_an_outcome() -> None:
    memory = OutcomeMemory(capacity=2)
    assert memory.first(event(OrderStatus.ACCEPTED)) is True
    assert memory.first(event(OrderStatus.FILLED)) is None
    assert memory.first(event(OrderStatus.UNKNOWN, coid="c2")) is False
    memory.first(event(OrderStatus.ACCEPTED, coid="c3"))  # over capacity: c1 is forgotten
    assert memory.first(event(OrderStatus.FILLED)) is True


def test_pending_orders_follow_their_events_and_count_once() -> None:
    pending = PendingOrders()
    key = PositionKey("s1", "coinbase", "BTC-USD")
    pending.approve(order("c1"))
    pending.approve(order("c1"))  # approved again (replay): still one order
    pending.approve(order("c2", Side.SELL, "0.25"))
    assert pending.by_position() == {key: D("0.75")}
    pending.on_event(event(OrderStatus.PARTIALLY_FILLED, coid="c1", filled="0.4"))
    assert pending.by_position() == {key: D("0.35")}
    pending.on_event(event(OrderStatus.CANCELLED, coid="c1"))
    pending.on_event(event(OrderStatus.REJECTED, coid="c2", side=Side.SELL))
    assert pending.by_position() == {}
    pending.on_event(event(OrderStatus.ACCEPTED, coid="c9", side=Side.SELL))  # seen first in a replay
    assert pending.by_position() == {key: D("-1")}
    assert len(pending) == 1


def test_replayed_approvals_are_pending_unless_an_event_came_first() -> None:
    pending = PendingOrders(capacity=2)
    key = PositionKey("s1", "coinbase", "BTC-USD")
    pending.on_event(event(OrderStatus.FILLED, coid="done", filled="1"))  # its approval replays later
    pending.on_event(event(OrderStatus.PARTIALLY_FILLED, coid="part", filled="0.25"))
    assert not pending.restore(order("done"))
    assert not pending.restore(order("part"))  # the event knows better what is left
    assert pending.restore(order("new", Side.SELL, "0.5"))
    assert pending.by_position() == {key: D("0.25")}
    for coid in ("t1", "t2"):  # bounded: the oldest terminal ids are forgotten
        pending.on_event(event(OrderStatus.CANCELLED, coid=coid))
    assert pending.restore(order("done"))


def test_unanswered_approvals_are_released_after_their_deadline_and_margin() -> None:
    pending = PendingOrders()
    timed = msgspec.structs.replace(order("timed"), expires_ns=100)
    answered = msgspec.structs.replace(order("answered"), expires_ns=100)
    pending.approve(timed)
    pending.approve(answered)
    pending.approve(order("no-deadline"))  # execution would place it whenever: never released
    pending.on_event(event(OrderStatus.ACCEPTED, coid="answered"))
    assert pending.release_unanswered(110, 10) == []
    assert pending.release_unanswered(111, 10) == ["timed"]
    assert len(pending) == 2


def test_a_resting_order_counts_until_terminal_and_a_late_re_report_never_revives_it() -> None:
    pending = PendingOrders()
    key = PositionKey("s1", "coinbase", "BTC-USD")
    resting = msgspec.structs.replace(order("rest"), order_type=OrderType.LIMIT, expires_ns=100)
    pending.approve(resting)
    pending.on_event(event(OrderStatus.ACCEPTED, coid="rest"))  # answered: rests past its deadline
    assert pending.release_unanswered(10**12, 0) == []
    pending.on_event(event(OrderStatus.PARTIALLY_FILLED, coid="rest", filled="0.25"))
    assert pending.by_position() == {key: D("0.75")}
    pending.on_event(event(OrderStatus.CANCELLED, coid="rest", filled="0.25"))
    assert pending.by_position() == {}
    # A re-report of the acceptance after the streams' de-duplication window has passed
    pending.on_event(event(OrderStatus.ACCEPTED, coid="rest"))
    assert pending.by_position() == {}
    assert len(pending) == 0
