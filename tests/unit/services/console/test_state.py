"""The console's page model: exact decimals without exponents, the latest event of each order with
its trace link, and the day's equity curve."""

from __future__ import annotations

from decimal import Decimal

from services.console.state import RECENT_ORDERS, ConsoleState
from shared.messages import OrderEvent, OrderStatus, PnlSummary, Position, Side
from shared.money import exact

D = Decimal
S = 1_000_000_000
DAY = 1_798_761_600 * S  # a UTC midnight


def _pnl(at_ns: int, total: str, *, qty: str = "0.00000000") -> PnlSummary:
    position = Position(
        strategy_id="s1",
        venue="coinbase-paper",
        product_id="BTC-USD",
        quantity=D(qty),
        average_price=D("100000.00"),
        realized_pnl=D(total),
        fees=D("0E-8"),
        updated_ns=at_ns,
    )
    return PnlSummary(
        by_strategy={"s1": D(total)},
        by_product={"BTC-USD": D(total)},
        realized=D(total),
        unrealized=D(0),
        fees=D("0E-8"),
        total=D(total),
        positions=(position,),
        summary_ns=at_ns,
    )


def _event(coid: str, status: OrderStatus) -> OrderEvent:
    return OrderEvent(
        client_order_id=coid,
        strategy_id="s1",
        venue="coinbase-paper",
        product_id="BTC-USD",
        side=Side.BUY,
        status=status,
        size=D("0.01"),
        event_ns=DAY,
    )


def test_exact_never_uses_exponents() -> None:
    assert exact({"a": [D("0E-8"), D("1E+2")], "b": D("-169.3241910719745")}) == {
        "a": ["0.00000000", "100"],
        "b": "-169.3241910719745",
    }


async def test_positions_and_pnl_are_plain_and_exact() -> None:
    state = ConsoleState(jaeger_url="http://jaeger:16686/")
    await state.on_pnl(_pnl(DAY, "-169.3241910719745", qty="0E-8"))
    page = state.snapshot(DAY)
    assert page["pnl"]["total"] == "-169.3241910719745"
    assert page["pnl"]["fees"] == "0.00000000"
    assert page["positions"][0]["quantity"] == "0.00000000"
    [row] = page["strategies"]
    assert row["id"] == "s1"
    assert row["positions"][0]["size"] == "0.00000000"
    assert row["realized_pnl"] == "-169.3241910719745"
    assert "E" not in str(page)


async def test_an_order_keeps_its_latest_event_and_first_trace() -> None:
    state = ConsoleState(jaeger_url="http://jaeger:16686/")
    await state.on_order(_event("c1", OrderStatus.ACCEPTED), "abc")
    await state.on_order(_event("c1", OrderStatus.FILLED))
    [order] = state.snapshot(DAY)["orders"]
    assert order["status"] == "filled"
    assert order["trace_url"] == "http://jaeger:16686/trace/abc"
    for i in range(RECENT_ORDERS + 5):
        await state.on_order(_event(f"c{i + 2}", OrderStatus.ACCEPTED))
    assert len(state.snapshot(DAY)["orders"]) == RECENT_ORDERS


async def test_equity_curve_is_spaced_and_starts_again_each_day() -> None:
    state = ConsoleState(jaeger_url="http://j", equity_every_s=10)
    for second, total in ((0, "1"), (5, "2"), (10, "3"), (100, "4")):
        await state.on_pnl(_pnl(DAY + second * S, total))
    assert [v for _, v in state.equity] == [D(1), D(3), D(4)]
    assert state.snapshot(DAY + 100 * S)["equity"]["points"][-1] == [(DAY + 100 * S) // 1_000_000, "4"]
    live = state.snapshot(DAY + 100 * S, full_curve=False)["equity"]
    assert live == {"full": False, "points": [[(DAY + 100 * S) // 1_000_000, "4"]]}
    await state.on_pnl(_pnl(DAY + 86_400 * S, "-1"))
    assert [v for _, v in state.equity] == [D(-1)]
