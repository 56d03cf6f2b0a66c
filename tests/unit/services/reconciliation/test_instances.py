"""Instances waiting for reconciliation: resolve, wait for working orders (bounded), escalate."""

from __future__ import annotations

from decimal import Decimal

from services.reconciliation import core
from services.reconciliation.instances import escalate
from services.reconciliation.model import (
    HaltInstance,
    InstanceView,
    Kind,
    Memory,
    ResolveInstance,
    ResolveOutcome,
    SendIntent,
)
from shared.messages import OrderStatus, Purpose, Side, client_order_id

from .helpers import NOW, SETTLED, D, S, ledger, order, settings, venue, vfill, vorder

PAIR = ("BTC-USD", "ETH-USD")


def inst(state: str = "reconciling", detail: str = "execution_timeout", sid: str = "p1") -> InstanceView:
    return InstanceView(strategy_id=sid, state=state, detail=detail, products=PAIR)


def resolved(state: str, positions: tuple[str, str], detail: str = "", sid: str = "p1") -> ResolveOutcome:
    return ResolveOutcome(
        strategy_id=sid,
        ok=True,
        state=state,
        detail=detail,
        positions=tuple(D(p) for p in positions),
        products=PAIR,
    )


def test_reconciling_instance_is_resolved_with_quantities_after_repairs() -> None:
    # Leg 1 filled at the venue, its fill never reached the bus; leg 2 was never sent.
    lv = ledger(
        orders=[
            order("c1", sid="p1", product="BTC-USD"),
            order("c2", sid="p1", product="ETH-USD", status=None),
        ]
    )
    vs = venue(balances={"BTC": "1.5"}, fills=[vfill("t1", "c1")])
    out = core.reconcile(lv, vs, {}, [inst()], SETTLED, NOW, settings())
    resolve = [a for a in out.actions if isinstance(a, ResolveInstance)]
    assert resolve == [
        ResolveInstance(strategy_id="p1", products=PAIR, positions=(D("0.5"), D(0)), reason="reconciliation")
    ]
    assert Kind.INSTANCE_RECONCILING in [f.kind for f in out.findings]
    assert out.memory.reconciling_since == {"p1": NOW}


def test_instance_at_rest_or_halted_by_an_operator_is_left_alone() -> None:
    views = [
        inst("flat", sid="a"),
        inst("in_position", sid="b"),
        inst("halted", "halted_by_command", sid="c"),
    ]
    out = core.reconcile(ledger(), venue(), {}, views, SETTLED, NOW, settings())
    assert out.actions == ()
    assert out.findings == ()


def test_instance_with_a_working_order_waits_but_never_past_the_bound() -> None:
    lv = ledger(orders=[order("c1", sid="p1")])
    vs = venue(open_orders=[vorder("c1", status=OrderStatus.ACCEPTED, filled="0")])
    out = core.reconcile(lv, vs, {}, [inst()], SETTLED, NOW, settings(max_unhedged_s=10))
    assert not [a for a in out.actions if isinstance(a, ResolveInstance)]
    assert "waiting" in out.findings[0].detail
    later = NOW + 11 * S
    again = core.reconcile(lv, vs, {}, [inst()], out.memory, later, settings(max_unhedged_s=10))
    assert [a for a in again.actions if isinstance(a, ResolveInstance)]


def test_instance_with_an_unresolved_unknown_order_waits() -> None:
    lv = ledger(orders=[order("c1", sid="p1", status=OrderStatus.UNKNOWN, age_s=1)])
    out = core.reconcile(lv, venue(), {"c1": None}, [inst()], SETTLED, NOW, settings())
    assert not [a for a in out.actions if isinstance(a, ResolveInstance)]


def test_halted_by_an_imbalance_is_resolved_again() -> None:
    view = inst("halted", "imbalanced_after_reconcile:pos1=0.5,pos2=0")
    lv = ledger(positions={("p1", "BTC-USD"): "0"})
    out = core.reconcile(lv, venue(), {}, [view], SETTLED, NOW, settings())
    assert [a.positions for a in out.actions if isinstance(a, ResolveInstance)] == [(D(0), D(0))]


def test_resolved_at_rest_clears_the_clocks() -> None:
    memory = Memory(reconciling_since={"p1": NOW - S}, unhedged_since={"p1": NOW - S})
    out = escalate([resolved("flat", ("0", "0"))], ledger(), memory, NOW, settings())
    assert out.actions == ()
    assert out.memory.unhedged_since == {}
    assert out.memory.reconciling_since == {}


def test_imbalance_is_reported_then_unwound_past_the_bound() -> None:
    outcome = resolved("halted", ("0.5", "0"), "imbalanced_after_reconcile:pos1=0.5,pos2=0")
    first = escalate([outcome], ledger(), Memory(), NOW, settings(max_unhedged_s=10))
    assert [f.kind for f in first.findings] == [Kind.UNHEDGED]
    assert first.actions == ()
    assert first.memory.unhedged_since == {"p1": NOW}
    later = escalate([outcome], ledger(), first.memory, NOW + 10 * S, settings(max_unhedged_s=10))
    (action,) = later.actions
    assert isinstance(action, SendIntent)
    intent = action.intent
    assert (intent.strategy_id, intent.product_id, intent.side, intent.size) == (
        "p1",
        "BTC-USD",
        Side.SELL,
        D("0.5"),
    )
    assert intent.purpose is Purpose.CORRECTIVE
    assert intent.client_order_id == client_order_id("recon-coinbase-p1", 1, 1)
    assert intent.venue == "coinbase"


def test_unwind_covers_every_leg_and_continues_the_corrective_sequence() -> None:
    done = order("old", sid="p1", purpose=Purpose.CORRECTIVE, seq=4, status=OrderStatus.FILLED, age_s=600)
    outcome = resolved("halted", ("0.5", "-2"), "imbalanced_after_reconcile")
    out = escalate([outcome], ledger(orders=[done]), Memory(), NOW, settings(max_unhedged_s=0))
    intents = [a.intent for a in out.actions if isinstance(a, SendIntent)]
    assert [(i.product_id, i.side, i.size, i.intent_seq, i.leg) for i in intents] == [
        ("BTC-USD", Side.SELL, D("0.5"), 5, 1),
        ("ETH-USD", Side.BUY, D(2), 5, 2),
    ]


def test_unwind_already_in_flight_is_not_sent_twice() -> None:
    flying = order(
        "r", sid="p1", product="BTC-USD", purpose=Purpose.CORRECTIVE, status=OrderStatus.ACCEPTED, age_s=5
    )
    outcome = resolved("halted", ("0.5", "0"), "imbalanced_after_reconcile")
    out = escalate([outcome], ledger(orders=[flying]), Memory(), NOW, settings(max_unhedged_s=0))
    assert out.actions == ()


def test_halt_and_alert_policies_for_an_imbalance() -> None:
    outcome = resolved("halted", ("0.5", "0"), "imbalanced_after_reconcile")
    halt = escalate(
        [outcome], ledger(), Memory(), NOW, settings(max_unhedged_s=0, policy={"unhedged": "halt_strategy"})
    )
    assert halt.actions == (HaltInstance(strategy_id="p1", reason="unhedged after reconciliation"),)
    alert = escalate(
        [outcome], ledger(), Memory(), NOW, settings(max_unhedged_s=0, policy={"unhedged": "alert"})
    )
    assert alert.actions == ()
    assert [f.kind for f in alert.findings] == [Kind.UNHEDGED]


def test_no_answer_is_not_an_imbalance() -> None:
    silent = ResolveOutcome(
        strategy_id="p1",
        ok=False,
        state="",
        detail="no answer",
        positions=(Decimal(1), Decimal(0)),
        products=PAIR,
    )
    out = escalate([silent], ledger(), Memory(), NOW, settings(max_unhedged_s=0))
    assert out.actions == ()
    assert out.findings == ()
