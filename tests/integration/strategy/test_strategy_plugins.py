"""A plug-in strategy file on a real worker: loaded from its stored code, fed books and public
trades, its limit orders and cancels on the bus; a broken or missing file is 'invalid', not a crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from services.strategy.specs import put_spec
from shared import subjects
from shared.bus import Bus
from shared.messages import StrategySpec
from shared.messages.market import BookLevel, BookUpdate, Trade
from shared.messages.orders import CancelRequest, OrderIntent, OrderType, TimeInForce
from shared.messages.strategy import PluginParams, StrategyStatus
from shared.sdk.codestore import put_code
from shared.sdk.specs import resolve
from shared.testing import eventually
from tests.integration.strategy.conftest import StartWorker
from tests.integration.strategy.helpers import ORDER_VENUE, VENUE, Collector, D, Side, put_product, uid

pytestmark = pytest.mark.integration

QUOTER = '''
from decimal import Decimal
from shared.sdk import Book, Context, Data, Params, PublicTrade, Side, Strategy


class QuoterParams(Params):
    product_id: str
    size: Decimal = Decimal("0.01")


class Quoter(Strategy[QuoterParams]):
    """Bids post-only at the best bid on the first book; cancels the bid on the first trade."""

    def __init__(self, params: QuoterParams) -> None:
        super().__init__(params)
        self.bid_id = ""

    def data(self) -> Data:
        return Data(book=True, trades=True)

    def on_book(self, book: Book, ctx: Context) -> None:
        if not self.bid_id and book.bids:
            price = ctx.round_price(book.product_id, book.bids[0].price, Side.BUY)
            order = ctx.buy(book.product_id, self.params.size, limit=price, post_only=True, tag="bid")
            self.bid_id = order.id if order is not None else ""

    def on_trade(self, trade: PublicTrade, ctx: Context) -> None:
        if self.bid_id:
            ctx.cancel(self.bid_id)
'''


async def _start_file(bus: Bus, tmp_path: Path, source: str, product: str) -> str:
    path = tmp_path / "quoter.py"
    path.write_text(source)
    resolved = resolve(f"{path}:Quoter", {"product_id": product})
    assert resolved.code is not None
    await put_code(bus, resolved.code.source, resolved.code.filename)
    sid = uid("plug")
    await put_spec(bus, StrategySpec(id=sid, params=resolved.params))
    return sid


async def test_a_plugin_quotes_post_only_on_books_and_cancels_on_trades(
    bus: Bus, start_worker: StartWorker, tmp_path: Path
) -> None:
    product = uid("QT")
    await put_product(bus, product, base_increment="0.01", min_size="0.01")
    worker = await start_worker(uid("w"))
    sid = await _start_file(bus, tmp_path, QUOTER, product)
    intents = await Collector[OrderIntent]().start(bus, subjects.intent(sid), OrderIntent)
    cancels = await Collector[CancelRequest]().start(
        bus, subjects.strategy_cancel(ORDER_VENUE, sid), CancelRequest
    )
    await eventually(lambda: worker.states().get(sid) == "flat", timeout_s=5, what="plug-in running")

    now = time.time_ns()
    book = BookUpdate(
        venue=VENUE,
        product_id=product,
        bids=(BookLevel(price=D("99.50"), size=D(1)),),
        asks=(BookLevel(price=D("100.50"), size=D(1)),),
        is_snapshot=True,
        exchange_time_ns=now,
        receive_time_ns=now,
        sequence=1,
    )
    await bus.publish(subjects.book(VENUE, product), book, traced=False)
    await eventually(lambda: intents.items, timeout_s=5, what="the post-only bid")
    bid = intents.items[0]
    assert (bid.order_type, bid.time_in_force, bid.post_only) == (OrderType.LIMIT, TimeInForce.GTC, True)
    assert (bid.side, bid.limit_price, bid.size) == (Side.BUY, D("99.50"), D("0.01"))

    trade = Trade(
        venue=VENUE,
        product_id=product,
        trade_id="t1",
        price=D("100"),
        size=D("0.5"),
        side=Side.SELL,
        exchange_time_ns=now,
        receive_time_ns=now,
    )
    await bus.publish(subjects.trade(VENUE, product), trade, traced=False)
    await eventually(lambda: cancels.items, timeout_s=5, what="the strategy's own cancel")
    assert cancels.items[0].client_order_ids == (bid.client_order_id,)


async def test_a_plugin_whose_code_is_not_stored_is_invalid_with_the_reason(
    bus: Bus, start_worker: StartWorker
) -> None:
    product = uid("QT")
    await put_product(bus, product)
    statuses = await Collector[StrategyStatus]().start(bus, subjects.strategy_status("*"), StrategyStatus)
    await start_worker(uid("w"))
    sid = uid("plug")
    params = PluginParams(strategy="gone.py:Quoter", code="0" * 64, products=(product,))
    await put_spec(bus, StrategySpec(id=sid, params=params))

    def invalid() -> StrategyStatus | None:
        return next((s for s in statuses.items if s.strategy_id == sid and s.state == "invalid"), None)

    status = await eventually(invalid, timeout_s=5, what="an invalid status")
    assert status is not None
    assert "is not stored" in status.detail
    assert status.kind == "Quoter"


async def test_a_plugin_that_raises_is_contained_and_shows_the_error(
    bus: Bus, start_worker: StartWorker, tmp_path: Path
) -> None:
    product = uid("QT")
    await put_product(bus, product)
    statuses = await Collector[StrategyStatus]().start(bus, subjects.strategy_status("*"), StrategyStatus)
    await start_worker(uid("w"))
    broken = QUOTER.replace("if not self.bid_id and book.bids:", "if 1 / 0:")
    sid = await _start_file(bus, tmp_path, broken, product)
    now = time.time_ns()
    book = BookUpdate(
        venue=VENUE,
        product_id=product,
        bids=(BookLevel(price=D("99.50"), size=D(1)),),
        asks=(),
        is_snapshot=True,
        exchange_time_ns=now,
        receive_time_ns=now,
        sequence=1,
    )

    async def failed() -> StrategyStatus | None:
        await bus.publish(subjects.book(VENUE, product), book, traced=False)
        return next(
            (s for s in statuses.items if s.strategy_id == sid and "ZeroDivisionError" in s.detail), None
        )

    status = await eventually(failed, timeout_s=10, what="the error in status")
    assert status is not None
    assert status.state in ("backoff", "halted")
