"""The pure core: every finding kind, every repair, and the position policies."""

from __future__ import annotations

from services.reconciliation import core
from services.reconciliation.model import (
    HaltInstance,
    Kind,
    Memory,
    PublishEvent,
    PublishFill,
    SendIntent,
)
from shared.messages import OrderStatus, Purpose, Side

from .helpers import NOW, SETTLED, D, ledger, order, settings, venue, vfill, vorder


def kinds(outcome: core.Outcome) -> list[str]:
    return [f.kind for f in outcome.findings]


def run(lv, vs, found=None, memory=SETTLED, instances=(), **overrides):  # type: ignore[no-untyped-def]
    return core.reconcile(lv, vs, found or {}, instances, memory, NOW, settings(**overrides))


# ---- fills ----
def test_missing_fill_is_published_under_its_owner_and_closes_the_difference() -> None:
    lv = ledger(orders=[order("c1")])
    vs = venue(balances={"BTC": "1.5"}, fills=[vfill("t1", "c1")])
    out = run(lv, vs)
    assert kinds(out) == [Kind.MISSING_FILL]
    (action,) = out.actions
    assert isinstance(action, PublishFill)
    assert action.fill.strategy_id == "s1"
    assert action.fill.trade_id == "t1"
    assert action.fill.size == D("0.5")
    assert action.fill.fee == D("0.45")


def test_fill_already_on_the_bus_is_not_a_finding() -> None:
    lv = ledger(positions={("s1", "BTC-USD"): "0.5"}, trade_ids=["t1"], orders=[order("c1")])
    out = run(lv, venue(balances={"BTC": "1.5"}, fills=[vfill("t1", "c1")]))
    assert out.findings == ()
    assert out.actions == ()


def test_fill_younger_than_the_grace_is_left_to_execution() -> None:
    lv = ledger(orders=[order("c1")])
    out = run(lv, venue(balances={"BTC": "1"}, fills=[vfill("t1", "c1", age_s=1)]))
    assert out.actions == ()


def test_outside_trade_is_adopted_under_the_external_id() -> None:
    out = run(ledger(), venue(balances={"BTC": "1.2"}, fills=[vfill("t9", "", size="0.2")]))
    assert kinds(out) == [Kind.EXTERNAL_TRADE]
    (action,) = out.actions
    assert isinstance(action, PublishFill)
    assert action.fill.strategy_id == "external"
    assert action.fill.client_order_id.startswith("external-")


def test_outside_trade_not_adopted_shows_as_a_position_difference() -> None:
    out = run(
        ledger(), venue(balances={"BTC": "1.2"}, fills=[vfill("t9", size="0.2")]), adopt_external_fills=False
    )
    assert kinds(out) == [Kind.EXTERNAL_TRADE, Kind.POSITION_DIFFERENCE]
    assert out.actions == ()


def test_outside_trade_halt_policy_halts_the_holders_of_the_product() -> None:
    lv = ledger(positions={("s1", "BTC-USD"): "0.5", ("s2", "ETH-USD"): "1"})
    vs = venue(balances={"BTC": "1.7", "ETH": "1"}, fills=[vfill("t9", size="0.2")])
    out = run(lv, vs, policy={"external_trade": "halt_strategy"})
    assert [a.strategy_id for a in out.actions if isinstance(a, HaltInstance)] == ["s1"]


def test_outside_trade_corrective_policy_trades_it_back_out() -> None:
    out = run(
        ledger(),
        venue(balances={"BTC": "1.2"}, fills=[vfill("t9", size="0.2")]),
        policy={"external_trade": "corrective"},
    )
    intents = [a.intent for a in out.actions if isinstance(a, SendIntent)]
    assert len(intents) == 1
    assert (intents[0].side, intents[0].size, intents[0].purpose) == (Side.SELL, D("0.2"), Purpose.CORRECTIVE)
    assert intents[0].strategy_id == "external"


# ---- orders ----
def test_unknown_order_is_looked_up_and_resolved_with_its_fills() -> None:
    lv = ledger(orders=[order("c1", status=OrderStatus.UNKNOWN)])
    vs = venue(balances={"BTC": "1.5"})
    refs = core.orders_to_look_up(lv, vs, NOW, settings())
    assert [r.client_order_id for r in refs] == ["c1"]
    found = {"c1": vorder("c1", fills=[vfill("t1", "c1", age_s=0)])}
    out = run(lv, vs, found)
    assert Kind.MISSING_FILL in kinds(out)
    assert Kind.UNKNOWN_ORDER_RESOLVED in kinds(out)
    fill, event = out.actions
    assert isinstance(fill, PublishFill)
    assert isinstance(event, PublishEvent)
    assert (event.event.status, event.event.filled_size) == (OrderStatus.FILLED, D("0.5"))


def test_unknown_order_missing_at_the_venue_is_rejected_after_the_grace() -> None:
    lv = ledger(orders=[order("c1", status=OrderStatus.UNKNOWN, age_s=60)])
    out = run(lv, venue(), {"c1": None})
    (event,) = out.actions
    assert isinstance(event, PublishEvent)
    assert event.event.status is OrderStatus.REJECTED
    assert event.event.reason == core.NOT_FOUND
    young = ledger(orders=[order("c1", status=OrderStatus.UNKNOWN, age_s=5)])
    assert run(young, venue(), {"c1": None}).actions == ()


def test_order_open_on_the_bus_but_done_at_the_venue_gets_its_terminal_event() -> None:
    lv = ledger(orders=[order("c1", status=OrderStatus.ACCEPTED, venue_order_id="v-c1")])
    vs = venue()
    refs = core.orders_to_look_up(lv, vs, NOW, settings())
    assert [r.venue_order_id for r in refs] == ["v-c1"]
    out = run(lv, vs, {"c1": vorder("c1", status=OrderStatus.CANCELLED, filled="0")})
    assert kinds(out) == [Kind.ORDER_EVENT_MISSING]
    (event,) = out.actions
    assert isinstance(event, PublishEvent)
    assert event.event.status is OrderStatus.CANCELLED


def test_order_still_open_at_the_venue_is_not_looked_up() -> None:
    lv = ledger(orders=[order("c1", status=OrderStatus.ACCEPTED)])
    vs = venue(open_orders=[vorder("c1", status=OrderStatus.ACCEPTED, filled="0")])
    assert core.orders_to_look_up(lv, vs, NOW, settings()) == ()
    assert run(lv, vs).actions == ()


def test_intent_without_events_open_at_the_venue_gets_its_acceptance() -> None:
    lv = ledger(orders=[order("c1", status=None)])
    vs = venue(open_orders=[vorder("c1", status=OrderStatus.ACCEPTED, filled="0")])
    out = run(lv, vs)
    assert kinds(out) == [Kind.ORDER_EVENT_MISSING]
    (event,) = out.actions
    assert isinstance(event, PublishEvent)
    assert (event.event.status, event.event.filled_size) == (OrderStatus.ACCEPTED, D(0))


def test_open_venue_order_nobody_knows_is_reported_and_never_cancelled() -> None:
    lv = ledger(positions={("s1", "BTC-USD"): "0.5"})
    vs = venue(balances={"BTC": "1.5"}, open_orders=[vorder("zz", status=OrderStatus.ACCEPTED, filled="0")])
    assert kinds(run(lv, vs)) == [Kind.UNKNOWN_OPEN_ORDER]
    assert run(lv, vs).actions == ()
    halted = run(lv, vs, policy={"unknown_open_order": "halt_strategy"})
    assert halted.actions == (HaltInstance(strategy_id="s1", reason="reconciliation: BTC-USD"),)
    assert run(lv, vs, policy={"unknown_open_order": "corrective"}).actions == ()


# ---- positions ----
def test_first_cycle_captures_the_baseline_and_compares_nothing() -> None:
    lv = ledger(positions={("s1", "BTC-USD"): "0.5"})
    out = run(lv, venue(balances={"BTC": "3", "USD": "10"}), memory=Memory())
    assert out.findings == ()
    assert out.memory.baseline == {"BTC": D("2.5"), "USD": D(10)}


def test_difference_within_dust_is_ignored_and_above_is_reported() -> None:
    lv = ledger(positions={("s1", "BTC-USD"): "0.5"})
    assert run(lv, venue(balances={"BTC": "1.500000005"})).findings == ()
    out = run(lv, venue(balances={"BTC": "1.4"}))
    (finding,) = out.findings
    assert finding.kind == Kind.POSITION_DIFFERENCE
    assert (finding.ledger_quantity, finding.venue_quantity) == (D("0.5"), D("0.4"))
    assert out.actions == ()
    assert run(lv, venue(balances={"BTC": "1.4"}), dust="0.2").findings == ()


def test_futures_difference_is_compared_in_contracts() -> None:
    lv = ledger(positions={("s1", "BIT-FUT"): "-3"})
    assert run(lv, venue(futures={"BIT-FUT": "-3"})).findings == ()
    (finding,) = run(lv, venue(futures={"BIT-FUT": "-2"})).findings
    assert finding.product_id == "BIT-FUT"
    (gone,) = run(lv, venue()).findings
    assert gone.venue_quantity == D(0)


def test_difference_halt_policy_halts_holders() -> None:
    lv = ledger(positions={("s1", "BTC-USD"): "0.5", ("s2", "BTC-USD"): "0.1"})
    out = run(lv, venue(balances={"BTC": "1.4"}), policy={"position_difference": "halt_strategy"})
    assert {a.strategy_id for a in out.actions if isinstance(a, HaltInstance)} == {"s1", "s2"}


def test_difference_corrective_trades_it_away_and_moves_it_into_the_baseline() -> None:
    lv = ledger(positions={("s1", "BTC-USD"): "0.5"})
    out = run(lv, venue(balances={"BTC": "1.8"}), policy={"position_difference": "corrective"})
    (action,) = out.actions
    assert isinstance(action, SendIntent)
    assert (action.intent.side, action.intent.size) == (Side.SELL, D("0.3"))
    assert action.intent.purpose is Purpose.CORRECTIVE
    assert out.memory.baseline is not None
    assert out.memory.baseline["BTC"] == D("1.3")
    # The next cycle, with the corrective's fill booked under the external id, finds nothing.
    after = ledger(positions={("s1", "BTC-USD"): "0.5", ("external", "BTC-USD"): "-0.3"})
    assert run(after, venue(balances={"BTC": "1.5"}), memory=out.memory).findings == ()


def test_corrective_in_flight_is_not_doubled() -> None:
    pending = order(
        "r1", sid="external", side=Side.SELL, size="0.3", status=None, purpose=Purpose.CORRECTIVE, age_s=5
    )
    lv = ledger(positions={("s1", "BTC-USD"): "0.5"}, orders=[pending])
    out = run(lv, venue(balances={"BTC": "1.8"}), policy={"position_difference": "corrective"})
    assert out.actions == ()
    assert kinds(out) == [Kind.POSITION_DIFFERENCE]
