"""The paper account: funds checked with Coinbase's reasons, state in KV `paper_account` across restarts."""

from __future__ import annotations

from decimal import Decimal

import nats.errors
import pytest

from services.execution.config import PaperSettings
from services.execution.paper.adapter import PaperAdapter
from shared import subjects
from shared.messages import (
    Fill,
    OrderStatus,
    OrderType,
    PaperAccountState,
    PaperOrderRecord,
    Side,
    TimeInForce,
)
from shared.testing import eventually

from .helpers import PaperHarness, make_order

pytestmark = pytest.mark.integration
LIMIT = {"order_type": OrderType.LIMIT, "time_in_force": TimeInForce.GTC}


def adapter(paper: PaperHarness) -> PaperAdapter:
    return paper.paper


async def test_account_and_resting_orders_survive_a_restart(paper: PaperHarness) -> None:
    settings = {"paper": PaperSettings(initial_balances={"USD": "100"})}
    await paper.start(**settings)
    await paper.set_book("BTC-USD", [("98.00", "5")], [("100.00", "5")])
    buy = make_order(paper.venue, size=Decimal("0.5"))
    await paper.submit(buy)
    await paper.recorder.wait_status(buy.client_order_id, OrderStatus.FILLED)
    resting = make_order(paper.venue, size=Decimal("0.4"), limit_price=Decimal("99.00"), **LIMIT)
    await paper.submit(resting)
    await paper.recorder.wait_status(resting.client_order_id, OrderStatus.ACCEPTED)
    await paper.stop()

    kv = await paper.bus.kv(subjects.KV_PAPER_ACCOUNT, PaperAccountState)
    stored = await kv.get(f"{paper.venue}.paper.account")
    assert stored is not None
    spent = Decimal("0.5") * 100 * Decimal("1.009")  # 0.5 BTC at 100 plus the 0.90% taker fee
    assert stored.value.balances["USD"] == Decimal(100) - spent
    assert stored.value.balances["BTC"] == Decimal("0.5")
    assert stored.value.holds["USD"] == Decimal("0.4") * 99 * Decimal("1.009")

    await paper.start(**settings)  # a new process: account and the resting order come back from KV
    account = adapter(paper).engine.account("paper")
    assert account.balance("USD") == Decimal(100) - spent
    assert account.hold("USD") == Decimal("0.4") * 99 * Decimal("1.009")
    await paper.set_book("BTC-USD", [("98.00", "5")], [("100.00", "5")])  # orders wait for market data
    poor = make_order(paper.venue, size=Decimal("0.1"), limit_price=Decimal("99.00"), **LIMIT)
    await paper.submit(poor)
    rejected = await paper.recorder.wait_status(poor.client_order_id, OrderStatus.REJECTED)
    assert rejected.reason == "INSUFFICIENT_FUND"  # 9.99 needed, 9.59 available after the hold
    await paper.trade("BTC-USD", Side.SELL, "0.4", "99.00")
    done = await paper.recorder.wait_status(resting.client_order_id, OrderStatus.FILLED)
    assert done.filled_size == Decimal("0.4")
    maker = paper.recorder.fills_of(resting.client_order_id)
    assert [(f.liquidity.value, f.fee) for f in maker] == [("MAKER", Decimal("0.4") * 99 * Decimal("0.005"))]


async def test_redelivered_order_after_restart_is_re_reported_not_re_matched(paper: PaperHarness) -> None:
    await paper.start()
    await paper.set_book("BTC-USD", [("98.00", "5")], [("100.00", "5")])
    order = make_order(paper.venue, size=Decimal("0.2"))
    await paper.submit(order)
    await paper.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    await paper.stop()
    service = await paper.start()
    assert await service.adapter.resume(order, redelivered=True)
    assert adapter(paper).submissions == 0
    assert not adapter(paper).engine.orders  # nothing matched again in the new process


async def test_slippage_widens_the_book_for_takers(paper: PaperHarness) -> None:
    await paper.start(paper=PaperSettings(initial_balances={"USD": "1000"}, slippage_bps=10))
    await paper.set_book("BTC-USD", [("99.00", "5")], [("100.00", "5")])
    order = make_order(paper.venue, size=Decimal("1"))
    await paper.submit(order)
    await paper.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    (fill,) = paper.recorder.fills_of(order.client_order_id)
    assert fill.price == Decimal("100.10")  # 10 bps above the ask, on the 0.01 grid
    assert fill.fee == Decimal("100.10") * Decimal("0.009")


async def test_a_fill_whose_publish_fails_is_kept_and_published_once_nats_answers_again(
    paper: PaperHarness,
) -> None:
    """A resting order filled by market data has no order message to be redelivered: if the fill
    cannot be published at that moment (NATS restarting) it must not be lost, only delayed."""
    service = await paper.start()
    await paper.set_book("BTC-USD", [("98.00", "5")], [("100.00", "5")])
    resting = make_order(paper.venue, size=Decimal("0.4"), limit_price=Decimal("99.00"), **LIMIT)
    await paper.submit(resting)
    await paper.recorder.wait_status(resting.client_order_id, OrderStatus.ACCEPTED)
    publish = service.fill
    failures = 2

    async def fill_while_nats_is_down(fill: Fill) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise nats.errors.ConnectionClosedError
        await publish(fill)

    service.fill = fill_while_nats_is_down  # type: ignore[method-assign]
    await paper.trade("BTC-USD", Side.SELL, "0.4", "99.00")
    done = await paper.recorder.wait_status(resting.client_order_id, OrderStatus.FILLED)
    assert done.filled_size == Decimal("0.4")
    await eventually(lambda: paper.recorder.fills_of(resting.client_order_id), what="the fill, retried")
    assert failures == 0
    assert [f.size for f in paper.recorder.fills_of(resting.client_order_id)] == [Decimal("0.4")]
    await eventually(lambda: adapter(paper).pending == 0, what="nothing left pending")
    kv = await paper.bus.kv(subjects.KV_PAPER_ACCOUNT, PaperOrderRecord)
    stored = await kv.get(f"{paper.venue}.paper.order.{resting.client_order_id}")
    assert stored is not None
    assert stored.value.status is OrderStatus.FILLED


async def test_a_restarted_paper_venue_never_reuses_an_order_or_trade_id(paper: PaperHarness) -> None:
    """Ids come from the venue core's generator: a restart must not replay its sequence, or a new
    fill would carry an old trade id and be dropped as a duplicate by the fills stream."""
    seen: list[tuple[str, str]] = []
    for _ in range(2):
        await paper.start()
        await paper.set_book("BTC-USD", [("98.00", "5")], [("100.00", "5")])
        order = make_order(paper.venue, size=Decimal("0.01"))
        await paper.submit(order)
        await paper.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
        await eventually(lambda o=order: paper.recorder.fills_of(o.client_order_id), what="the fill")
        (fill,) = paper.recorder.fills_of(order.client_order_id)
        seen.append((fill.trade_id, fill.venue_order_id))
        await paper.stop()
    (first_trade, first_order), (second_trade, second_order) = seen
    assert first_trade != second_trade
    assert first_order != second_order


async def test_an_account_write_lost_to_a_kill_is_caught_up_from_the_records(paper: PaperHarness) -> None:
    """Records are written before the account: a process that dies in between leaves an account
    behind its records (never ahead), and the next process books the missing fills again."""
    settings = {"paper": PaperSettings(initial_balances={"USD": "100"})}
    await paper.start(**settings)
    await paper.set_book("BTC-USD", [("98.00", "5")], [("100.00", "5")])
    first = make_order(paper.venue, size=Decimal("0.5"))
    await paper.submit(first)
    await paper.recorder.wait_status(first.client_order_id, OrderStatus.FILLED)
    await eventually(lambda: adapter(paper).pending == 0, what="first order written")

    accounts = adapter(paper).outbox.accounts
    assert accounts is not None

    async def dies_first(key: str, value: PaperAccountState) -> int:
        raise nats.errors.ConnectionClosedError

    accounts.put = dies_first  # type: ignore[method-assign]
    second = make_order(paper.venue, size=Decimal("0.2"))
    await paper.submit(second)
    await paper.recorder.wait_status(second.client_order_id, OrderStatus.FILLED)
    # The process dies here: its record is stored, its account write never landed.
    adapter(paper).outbox.account_unsaved = False
    if adapter(paper).outbox.retry is not None:
        adapter(paper).outbox.retry.cancel()
    await paper.stop()

    kv = await paper.bus.kv(subjects.KV_PAPER_ACCOUNT, PaperAccountState)
    behind = await kv.get(f"{paper.venue}.paper.account")
    assert behind is not None
    assert behind.value.fills_booked == 1
    assert behind.value.balances["BTC"] == Decimal("0.5")

    await paper.start(**settings)
    account = adapter(paper).engine.account("paper")
    spent = Decimal("0.7") * 100 * Decimal("1.009")  # both buys at 100 plus the 0.90% taker fee
    assert account.balance("BTC") == Decimal("0.7")
    assert account.balance("USD") == Decimal(100) - spent
    caught_up = await kv.get(f"{paper.venue}.paper.account")
    assert caught_up is not None
    assert caught_up.value.fills_booked == 2
    assert caught_up.value.balances == {"USD": Decimal(100) - spent, "BTC": Decimal("0.7")}
