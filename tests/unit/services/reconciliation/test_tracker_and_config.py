"""The ledger tracker's bookkeeping, and settings validation."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from services.reconciliation.config import PolicySettings, ReconSettings
from services.reconciliation.tracker import LedgerTracker
from shared.messages import Fill, Liquidity, OrderEvent, OrderIntent, OrderStatus, OrderType, Purpose, Side

D = Decimal


def intent(coid: str = "c1", venue: str = "v", purpose: Purpose = Purpose.ENTRY) -> OrderIntent:
    return OrderIntent(
        client_order_id=coid,
        strategy_id="s1",
        intent_seq=3,
        leg=1,
        venue=venue,
        product_id="BTC-USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        size=D("0.5"),
        purpose=purpose,
        created_ns=100,
    )


def event(status: OrderStatus, filled: str = "0", ns: int = 200, coid: str = "c1") -> OrderEvent:
    return OrderEvent(
        client_order_id=coid,
        venue_order_id="x1",
        strategy_id="s1",
        venue="v",
        product_id="BTC-USD",
        side=Side.BUY,
        status=status,
        size=D("0.5"),
        filled_size=D(filled),
        event_ns=ns,
    )


def fill(trade_id: str, venue: str = "v") -> Fill:
    return Fill(
        trade_id=trade_id,
        client_order_id="c1",
        strategy_id="s1",
        venue=venue,
        product_id="BTC-USD",
        side=Side.BUY,
        price=D(100),
        size=D("0.25"),
        fee=D("0.1"),
        liquidity=Liquidity.TAKER,
        fill_ns=300,
    )


def test_event_before_its_intent_keeps_the_state_and_gains_the_owner_details() -> None:
    tracker = LedgerTracker("v")
    tracker.on_event(event(OrderStatus.ACCEPTED))
    tracker.on_intent(intent(purpose=Purpose.CORRECTIVE))
    order = tracker.view().orders["c1"]
    assert (order.status, order.venue_order_id, order.purpose, order.intent_seq) == (
        OrderStatus.ACCEPTED,
        "x1",
        Purpose.CORRECTIVE,
        3,
    )
    assert order.updated_ns == 200


def test_terminal_state_is_never_undone_by_a_late_re_report() -> None:
    tracker = LedgerTracker("v")
    tracker.on_intent(intent())
    tracker.on_event(event(OrderStatus.FILLED, "0.5", ns=300))
    tracker.on_event(event(OrderStatus.ACCEPTED, ns=400))
    order = tracker.view().orders["c1"]
    assert (order.status, order.filled_size) == (OrderStatus.FILLED, D("0.5"))


def test_fills_book_positions_once_and_other_venues_are_ignored() -> None:
    tracker = LedgerTracker("v")
    tracker.on_fill(fill("t1"))
    tracker.on_fill(fill("t1"))
    tracker.on_fill(fill("t2"))
    tracker.on_intent(intent("c9", venue="other"))
    view = tracker.view()
    assert view.positions == {("s1", "BTC-USD"): D("0.5")}
    assert view.trade_ids == {"t1", "t2"}
    assert "c9" not in view.orders
    assert tracker.read == {"fills": 3, "events": 0, "intents": 1}


@pytest.mark.parametrize(
    "values",
    [
        {"mode": "demo"},
        {"interval_s": 0},
        {"dust": "-1"},
        {"dust": "abc"},
        {"dust_by_product": {"BTC": "x"}},
        {"max_unhedged_s": -1},
        {"external_strategy_id": ""},
    ],
)
def test_bad_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises((ValueError, msgspec.ValidationError)):
        msgspec.convert(values, ReconSettings)


def test_bad_policy_is_refused_and_dust_has_overrides() -> None:
    with pytest.raises(ValueError, match="position_difference"):
        PolicySettings(position_difference="panic")
    settings = ReconSettings(dust="0.001", dust_by_product={"BIT-FUT": "1"})
    assert (settings.dust_of("BTC"), settings.dust_of("BIT-FUT")) == (D("0.001"), D(1))
