"""After a (re)start the paper venue has not seen the market yet: orders wait for it, never reject."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.execution.config import PaperSettings
from shared.messages import Order, OrderStatus
from shared.testing import eventually

from .helpers import BALANCES, PaperHarness, make_order

pytestmark = pytest.mark.integration


async def test_order_before_any_book_fills_once_the_book_arrives(paper: PaperHarness) -> None:
    await paper.start(paper=PaperSettings(initial_balances=BALANCES, market_wait_s=10))
    order = make_order(paper.venue, size=Decimal("0.5"))
    await paper.submit(order)
    await eventually(lambda: not paper.paper.market_ready(), what="order waiting for BTC-USD data")
    assert paper.recorder.statuses(order.client_order_id) == []
    await paper.set_book("BTC-USD", [("98.00", "5")], [("100.00", "5")])
    filled = await paper.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    assert filled.filled_size == Decimal("0.5")
    assert OrderStatus.REJECTED not in paper.recorder.statuses(order.client_order_id)
    assert paper.paper.market_ready()


async def test_order_without_market_data_is_redelivered_not_rejected(paper: PaperHarness) -> None:
    await paper.start(paper=PaperSettings(initial_balances=BALANCES, market_wait_s=0.1))
    adapter = paper.paper
    attempts: list[str] = []
    place = adapter.place

    async def counting(order: Order) -> OrderStatus:
        attempts.append(order.client_order_id)
        return await place(order)

    adapter.place = counting  # type: ignore[method-assign]
    order = make_order(paper.venue, product_id="ETH-USD", size=Decimal("0.5"))
    await paper.submit(order)
    await eventually(lambda: attempts.count(order.client_order_id) >= 3, timeout_s=10, what="redeliveries")
    assert paper.recorder.statuses(order.client_order_id) == []  # no reject, nothing reported yet
    assert not adapter.market_ready()
    assert adapter.submissions == 0
    await paper.set_book("ETH-USD", [("2999.00", "5")], [("3000.00", "5")])
    await paper.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    assert OrderStatus.REJECTED not in paper.recorder.statuses(order.client_order_id)
    assert adapter.market_ready()


async def test_a_seen_but_empty_side_still_rejects_no_liquidity(paper: PaperHarness) -> None:
    await paper.start()
    await paper.set_book("BTC-USD", [("98.00", "5")], [])
    order = make_order(paper.venue)
    await paper.submit(order)
    rejected = await paper.recorder.wait_status(order.client_order_id, OrderStatus.REJECTED)
    assert rejected.reason == "INVALID_NO_LIQUIDITY"
