"""The naked-leg backstop's pure part: what is naked, who manages it, when to unwind, and how."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest

from services.reconciliation import naked
from services.reconciliation.instances import corrective_intent
from services.reconciliation.model import Kind, SendIntent
from services.reconciliation.naked import Condition, Holder, condition_of, excess
from services.reconciliation.tracker import LedgerTracker
from shared.messages import OrderIntent, OrderStatus, OrderType, Purpose, RiskDecision, Side, client_order_id

from .helpers import NOW, D, S, ledger, order, settings

PAIR = ("BTC-USD", "ETH-USD")
MS = 1_000_000


def holder(condition: Condition = Condition.HALTED, sid: str = "p1", ratio: str = "0") -> Holder:
    return Holder(
        strategy_id=sid,
        condition=condition,
        products=PAIR,
        max_unhedged_ms=300,
        hedge_ratio=D(ratio),
        increments=(D("0.001"), D("0.01")),
    )


@pytest.mark.parametrize(
    ("q1", "q2", "ratio", "trade"),
    [
        ("0", "0", "0", ("0", "0")),
        ("0.5", "0", "0", ("-0.5", "0")),  # leg 1 alone
        ("0", "-5", "0", ("0", "5")),  # leg 2 alone
        ("0.5", "5", "0", ("-0.5", "-5")),  # same side: nothing is hedged
        ("0.5", "-3", "0", ("0", "0")),  # opposite sides, ratio unknown: counted as hedged
        ("0.5", "-5", "10", ("0", "0")),  # matched
        ("0.5", "-5.01", "10", ("0", "0")),  # within one leg-2 increment
        ("0.5", "-7", "10", ("0", "2")),  # leg 2 over: cut it back
        ("-0.5", "2", "10", ("0.3", "0")),  # leg 1 over (short): buy back what leg 2 does not hedge
    ],
)
def test_excess_to_unwind(q1: str, q2: str, ratio: str, trade: tuple[str, str]) -> None:
    assert excess(D(q1), D(q2), D(ratio), (D("0.001"), D("0.01"))) == (D(trade[0]), D(trade[1]))


def test_who_manages_an_instance() -> None:
    def of(**kw: object) -> Condition:
        values: dict[str, object] = {
            "spec_found": True,
            "enabled": True,
            "here": True,
            "state": "entering",
            "lease_live": True,
        }
        values.update(kw)
        return condition_of(**values)  # type: ignore[arg-type]

    assert of() is Condition.RUNNING
    assert of(state="") is Condition.RUNNING  # no status heard yet, but a worker holds it
    assert of(state="halted") is Condition.HALTED
    assert of(state="failed") is Condition.HALTED
    assert of(state="reconciling") is Condition.HALTED  # its machine gave up: the leg is ours now
    assert of(lease_live=False) is Condition.ORPHANED
    assert of(enabled=False) is Condition.STOPPED
    assert of(here=False) is Condition.STOPPED  # its orders now go to another venue
    assert of(spec_found=False, state="halted") is Condition.DELETED


def test_running_instance_is_measured_but_left_to_its_own_machine() -> None:
    lv = ledger(positions={("p1", "BTC-USD"): "0.5"})
    out = naked.plan([holder(Condition.RUNNING)], lv, {}, {"p1": NOW - 10 * S}, NOW, settings())
    assert out.actions == ()
    assert out.since == {"p1": NOW - 10 * S}


def test_unmanaged_naked_leg_is_unwound_at_its_bound_not_before() -> None:
    lv = ledger(positions={("p1", "BTC-USD"): "0.5"})
    moved = {"p1": NOW}
    early = naked.plan([holder()], lv, {}, moved, NOW + 299 * MS, settings())
    assert early.actions == ()
    assert early.since == {"p1": NOW}
    due = naked.plan([holder()], lv, early.since, moved, NOW + 300 * MS, settings())
    (action,) = due.actions
    assert isinstance(action, SendIntent)
    intent = action.intent
    assert (intent.strategy_id, intent.product_id, intent.side, intent.size) == (
        "p1",
        "BTC-USD",
        Side.SELL,
        D("0.5"),
    )
    assert (intent.purpose, intent.order_type) == (Purpose.CORRECTIVE, OrderType.MARKET)
    assert intent.expires_ns == NOW + 300 * MS + 5 * S
    assert [f.kind for f in due.findings] == [Kind.NAKED_LEG]
    assert "halted" in due.findings[0].detail


def test_both_legs_on_one_side_are_both_unwound_in_one_sequence() -> None:
    lv = ledger(positions={("p1", "BTC-USD"): "0.5", ("p1", "ETH-USD"): "5"})
    out = naked.plan([holder(Condition.DELETED)], lv, {"p1": NOW - S}, {}, NOW, settings())
    intents = [a.intent for a in out.actions if isinstance(a, SendIntent)]
    assert [(i.product_id, i.side, i.size, i.intent_seq, i.leg) for i in intents] == [
        ("BTC-USD", Side.SELL, D("0.5"), 1, 1),
        ("ETH-USD", Side.SELL, D(5), 1, 2),
    ]


def test_hedged_instance_is_left_alone_and_an_ended_episode_is_measured() -> None:
    lv = ledger(positions={("p1", "BTC-USD"): "0.5", ("p1", "ETH-USD"): "-5"})
    out = naked.plan([holder(ratio="10")], lv, {"p1": NOW - 2 * S}, {}, NOW, settings())
    assert out.actions == ()
    assert out.since == {}
    assert out.ended_ns == (2 * S,)


def test_nothing_is_sent_while_a_corrective_is_in_flight_or_its_fills_are_on_their_way() -> None:
    positions = {("p1", "BTC-USD"): "0.5"}
    flying = order("r1", sid="p1", purpose=Purpose.CORRECTIVE, side=Side.SELL, status=None, age_s=2)
    filled_not_booked = order(
        "r2",
        sid="p1",
        purpose=Purpose.CORRECTIVE,
        side=Side.SELL,
        status=OrderStatus.FILLED,
        filled="0.5",
        age_s=2,
    )
    for pending in (flying, filled_not_booked):
        out = naked.plan(
            [holder()], ledger(positions, orders=[pending]), {"p1": NOW - S}, {}, NOW, settings()
        )
        assert out.actions == (), pending
    booked = dataclasses.replace(filled_not_booked, booked=D("0.5"))
    out = naked.plan([holder()], ledger(positions, orders=[booked]), {"p1": NOW - S}, {}, NOW, settings())
    assert [a.intent.intent_seq for a in out.actions if isinstance(a, SendIntent)] == [2]


def test_a_refused_corrective_is_retried_after_the_pause_only() -> None:
    positions = {("p1", "BTC-USD"): "0.5"}
    refused = order("r1", sid="p1", purpose=Purpose.CORRECTIVE, status=OrderStatus.REJECTED, age_s=0.5)
    out = naked.plan([holder()], ledger(positions, orders=[refused]), {"p1": NOW - S}, {}, NOW, settings())
    assert out.actions == ()
    later = naked.plan(
        [holder()], ledger(positions, orders=[refused]), {"p1": NOW - S}, {}, NOW + S, settings()
    )
    assert len(later.actions) == 1


def test_paper_mode_reconciles_the_paper_venue_and_sends_correctives_there() -> None:
    paper = settings(mode="paper")
    assert paper.execution_venue == "coinbase-paper"
    assert settings(mode="live").execution_venue == "coinbase"
    intent = corrective_intent(paper, "p1", "BTC-USD", D("-0.5"), 1, 1, NOW, "test")
    assert intent.venue == "coinbase-paper"
    assert intent.client_order_id == client_order_id("recon-coinbase-paper-p1", 1, 1)


def test_tracker_marks_refusals_books_fills_per_order_and_times_moves() -> None:
    tracker = LedgerTracker("coinbase", clock=lambda: 42)
    intent = OrderIntent(
        client_order_id="c1",
        strategy_id="p1",
        intent_seq=1,
        leg=1,
        venue="coinbase",
        product_id="BTC-USD",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        size=D("0.5"),
        purpose=Purpose.CORRECTIVE,
        created_ns=time.time_ns(),
    )
    tracker.on_decision(
        RiskDecision(client_order_id="c1", strategy_id="p1", approved=False, decided_ns=time.time_ns())
    )
    tracker.on_intent(intent)  # the refusal was read first: the order is over all the same
    assert tracker.view().orders["c1"].status is OrderStatus.REJECTED
    assert tracker.view().orders["c1"].settled
    assert tracker.moved_ns == {}


def test_zero_limit_means_at_once() -> None:
    lv = ledger(positions={("p1", "ETH-USD"): "-5"})
    h = dataclasses.replace(holder(Condition.ORPHANED), max_unhedged_ms=0)
    out = naked.plan([h], lv, {}, {}, NOW, settings())
    assert [
        (a.intent.product_id, a.intent.side, a.intent.size) for a in out.actions if isinstance(a, SendIntent)
    ] == [("ETH-USD", Side.BUY, Decimal(5))]
