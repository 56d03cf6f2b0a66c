"""The order an approval sends is built once, in the book, and limits change through the book."""

from __future__ import annotations

from decimal import Decimal

from shared.messages import Order, RiskDecision
from tests.unit.services.risk.test_risk_book import NOW, book, intent, limits

D = Decimal


def test_an_approval_publishes_the_exact_order_it_carries() -> None:
    b = book()
    sent = intent()
    decision, order = b.decide(sent, NOW, 1)
    assert order is not None
    assert b.approved_order(decision, sent) is order
    assert b.approved_order(b.redelivered(sent, 1) or decision, sent) is order
    refused, _ = b.decide(intent(venue="other", product_id="X"), NOW, 2)
    assert b.approved_order(refused, sent) is None


def test_a_replayed_approval_without_its_order_sends_the_intents() -> None:
    sent = intent()
    legacy = RiskDecision(
        client_order_id=sent.client_order_id, strategy_id="s1", approved=True, decided_ns=NOW
    )
    assert book().approved_order(legacy, sent) == Order.from_intent(sent, NOW)


def test_new_limits_judge_the_next_decision() -> None:
    b = book()
    assert b.decide(intent(), NOW, 1)[0].approved
    b.set_limits(limits(max_position_notional=D(1)))
    assert b.decide(intent(), NOW, 2)[0].reasons == ("MAX_POSITION_NOTIONAL",)
