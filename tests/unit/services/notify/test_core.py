"""Which bus events become which messages."""

from __future__ import annotations

from decimal import Decimal

from services.notify.core import (
    DailySchedule,
    Kind,
    Level,
    ReadinessWatch,
    ReconWatch,
    RiskWatch,
    fill_note,
    money,
    summary_note,
    utc_day,
)
from shared.messages import PnlSummary
from shared.messages.risk import BreakerState

from .helpers import T0, S, beat, fill, finding, report, risk


def test_a_fill_is_one_line_keyed_by_venue() -> None:
    note = fill_note(fill(strategy="ma-btc", venue="coinbase"))
    assert note.kind is Kind.FILL
    assert note.key == "coinbase"
    assert note.body == "BUY 0.001 BTC-USD @ 100000.00 (fee 0.90, taker) for ma-btc on coinbase"


def test_halt_and_resume_are_told_once_each() -> None:
    watch = RiskWatch()
    assert watch.observe(risk()) == []
    (halt,) = watch.observe(risk(kill_switch=True, kill_reason="operator: maintenance", epoch=1))
    assert (halt.kind, halt.title, halt.level) == (Kind.HALT, "Trading halted", Level.FAILURE)
    assert "operator: maintenance" in halt.body
    assert watch.observe(risk(kill_switch=True, kill_reason="operator: maintenance", epoch=1)) == []
    (again,) = watch.observe(risk(kill_switch=True, kill_reason="daily loss limit", epoch=2))
    assert "daily loss limit" in again.body  # a new halt (new epoch) while halted
    (resume,) = watch.observe(risk(epoch=2))
    assert (resume.title, resume.level) == ("Trading resumed", Level.SUCCESS)


def test_a_standing_halt_is_told_at_start() -> None:
    (note,) = RiskWatch().observe(risk(kill_switch=True, kill_reason="x", epoch=3))
    assert note.title == "Trading halted"


def test_a_breaker_trip_and_its_recovery() -> None:
    watch = RiskWatch()
    watch.observe(risk())
    (trip,) = watch.observe(risk(breaker=BreakerState.OPEN, consecutive_failures=5, breaker_opened_ns=T0))
    assert (trip.kind, trip.title) == (Kind.BREAKER, "Breaker tripped")
    assert "5 consecutive" in trip.body
    assert watch.observe(risk(breaker=BreakerState.OPEN, consecutive_failures=5, breaker_opened_ns=T0)) == []
    assert watch.observe(risk(breaker=BreakerState.HALF_OPEN, breaker_opened_ns=T0)) == []
    (reopened,) = watch.observe(risk(breaker=BreakerState.OPEN, breaker_opened_ns=T0 + 60 * S))
    assert reopened.title == "Breaker tripped"  # the probe failed: a new trip
    watch.observe(risk(breaker=BreakerState.HALF_OPEN, breaker_opened_ns=T0 + 60 * S))
    (closed,) = watch.observe(risk())
    assert (closed.title, closed.level) == ("Breaker closed", Level.SUCCESS)


def test_new_recon_findings_are_told_once_and_naked_legs_apart() -> None:
    watch = ReconWatch()
    assert watch.observe(report()) == []
    diff = finding("position_difference", detail="ledger 1, venue 2")
    naked = finding("naked_leg", strategy="basis-1", product="", detail="naked leg of a halted instance")
    notes = watch.observe(report(diff, naked))
    assert [(n.kind, n.key) for n in notes] == [(Kind.NAKED_LEG, "basis-1"), (Kind.RECON, "coinbase-paper")]
    assert "naked leg of a halted instance" in notes[0].body
    assert notes[1].title == "Reconciliation coinbase-paper: 1 finding"
    assert "position_difference BTC-USD s1: ledger 1, venue 2" in notes[1].body
    assert watch.observe(report(diff)) == []  # standing: not told again
    assert watch.observe(report()) == []
    assert len(watch.observe(report(diff))) == 1  # back after a clean report


def test_many_findings_are_counted_not_listed() -> None:
    findings = [finding("missing_fill", strategy=f"s{i}") for i in range(8)]
    (note,) = ReconWatch().observe(report(*findings))
    assert note.title.endswith("8 findings")
    assert note.body.count("\n") == 5
    assert "… and 3 more" in note.body


def test_a_service_not_ready_past_the_bound_is_told_once_and_its_recovery() -> None:
    watch = ReadinessWatch(after_s=60, fresh_s=15)
    assert watch.observe([beat("marketdata", ready=True, at=T0)], T0) == []
    assert watch.observe([beat("marketdata", ready=False, at=T0 + 5 * S)], T0 + 5 * S) == []
    assert watch.observe([beat("marketdata", ready=False, at=T0 + 60 * S)], T0 + 60 * S) == []
    (down,) = watch.observe([beat("marketdata", ready=False, at=T0 + 65 * S)], T0 + 65 * S)
    assert (down.kind, down.key, down.level) == (Kind.NOT_READY, "marketdata", Level.FAILURE)
    assert down.body == "marketdata not ready for 60 s (host-1: feed)"
    assert watch.observe([beat("marketdata", ready=False, at=T0 + 70 * S)], T0 + 70 * S) == []
    (up,) = watch.observe([beat("marketdata", ready=True, at=T0 + 75 * S)], T0 + 75 * S)
    assert up.title == "marketdata ready"


def test_a_service_whose_heartbeat_stops_is_not_ready() -> None:
    watch = ReadinessWatch(after_s=30, fresh_s=15, ignore=frozenset({"notify"}))
    watch.observe([beat("risk", ready=True, at=T0), beat("notify", ready=False, at=T0)], T0)
    assert watch.observe([], T0 + 20 * S) == []
    (note,) = watch.observe([], T0 + 50 * S)
    assert note.body == "risk not ready for 30 s (no heartbeat)"


def test_a_restart_that_comes_back_in_time_is_not_told() -> None:
    watch = ReadinessWatch(after_s=60, fresh_s=15)
    watch.observe([beat("risk", ready=True, at=T0)], T0)
    old = beat("risk", ready=True, at=T0, instance="host-1")
    assert (
        watch.observe([old, beat("risk", ready=False, at=T0 + 30 * S, instance="host-2")], T0 + 30 * S) == []
    )
    assert (
        watch.observe([old, beat("risk", ready=True, at=T0 + 40 * S, instance="host-2")], T0 + 40 * S) == []
    )
    assert watch.observe([beat("risk", ready=True, at=T0 + 100 * S, instance="host-2")], T0 + 100 * S) == []


def test_the_daily_summary_is_due_once_a_day_at_its_time() -> None:
    at_9 = 9 * 60  # T0 is 08:00 UTC
    schedule = DailySchedule.starting(at_9, T0)
    assert schedule.due(T0 + 3599 * S) == ""
    day = utc_day(T0)
    assert schedule.due(T0 + 3600 * S) == day
    assert schedule.due(T0 + 3601 * S) == ""
    assert schedule.due(T0 + 12 * 3600 * S) == ""
    assert schedule.due(T0 + 24 * 3600 * S) == ""  # next day, 08:00: not yet
    assert schedule.due(T0 + 25 * 3600 * S) == utc_day(T0 + 25 * 3600 * S)


def test_a_start_after_the_time_waits_for_tomorrow() -> None:
    schedule = DailySchedule.starting(7 * 60, T0)
    assert schedule.due(T0 + S) == ""
    assert schedule.due(T0 + 23 * 3600 * S) == utc_day(T0 + 23 * 3600 * S)


def test_the_summary_rounds_money_to_the_cent() -> None:
    pnl = PnlSummary(
        by_strategy={"ma-btc": Decimal("-169.3241910719745"), "pairs": Decimal("12.5"), "flat": Decimal(0)},
        by_product={},
        realized=Decimal("-150.004"),
        unrealized=Decimal("-6.82"),
        fees=Decimal("3.0050"),
        total=Decimal("-156.824191"),
        positions=(),
        summary_ns=T0,
    )
    note = summary_note("2027-01-15", pnl)
    assert (note.kind, note.key, note.level) == (Kind.DAILY_SUMMARY, "2027-01-15", Level.WARNING)
    assert note.title == "PnL 2027-01-15: -156.82"
    lines = note.body.splitlines()
    assert lines[0] == "total -156.82 (realized -150.00, unrealized -6.82, fees 3.00)"
    assert lines[1:] == ["ma-btc: -169.32", "pairs: 12.50", "flat: 0.00"]
    assert summary_note("2027-01-15", None).body == "No PnL reported yet"
    assert money(Decimal("0E-8")) == "0.00"
