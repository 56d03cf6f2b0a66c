"""The risk book: decisions keep exactly the state their verdict says, redeliveries repeat the
decision, restarts restore it, and the daily loss trips the kill switch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.risk.book import RiskBook
from services.risk.config import RiskSettings, default_limits
from shared.config import load_settings
from shared.errors import ConfigError
from shared.ledger import PositionKey
from shared.messages import (
    BreakerState,
    Fill,
    Liquidity,
    MaCrossoverParams,
    Mode,
    Order,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    OrderType,
    ProductInfo,
    Purpose,
    RiskDecision,
    Side,
    StrategySpec,
)
from shared.risk import BreakerConfig, RateLimit, RiskLimits

D = Decimal
SEC = 1_000_000_000
NOW = 1_764_000_000 * SEC
SPOT = ProductInfo(
    venue="coinbase", product_id="BTC-USD", base_increment=D("0.0001"), price_increment=D("0.01")
)
FUT = ProductInfo(
    venue="coinbase",
    product_id="BIT-FUT",
    base_increment=D("1"),
    price_increment=D("5"),
    contract_size=D("0.01"),
)
_n = iter(range(1, 10**6))


def limits(**overrides: Any) -> RiskLimits:
    fields: dict[str, Any] = {
        "max_position_notional": D(50_000),
        "max_strategy_notional": D(100_000),
        "max_gross_exposure": D(200_000),
        "daily_loss_limit": D(100),
        "venue_rate": RateLimit(per_second=D(100), burst=100),
        "strategy_rate": RateLimit(per_second=D(100), burst=100),
        "price_band_bps": D(50),
        "max_staleness_ms": 5_000,
        "breaker": BreakerConfig(failure_threshold=1, cooldown_ms=1_000),
    }
    fields.update(overrides)
    return RiskLimits(**fields)


def spec(sid: str = "s1", mode: Mode = Mode.LIVE, *, enabled: bool = True) -> StrategySpec:
    return StrategySpec(id=sid, params=MaCrossoverParams(product_id="BTC-USD"), mode=mode, enabled=enabled)


def book(**overrides: Any) -> RiskBook:
    """Serves `coinbase`; s1 and s2 are live instances there."""
    b = RiskBook(limits(**overrides), ["coinbase"])
    b.set_products(
        [SPOT, FUT, ProductInfo(venue="other", product_id="X", base_increment=D(1), price_increment=D(1))]
    )
    b.ledger.mark("coinbase", "BTC-USD", D("100000"), NOW)
    b.set_spec("s1", spec("s1"), 1)
    b.set_spec("s2", spec("s2"), 2)
    return b


def intent(**overrides: Any) -> OrderIntent:
    n = next(_n)
    fields: dict[str, Any] = {
        "client_order_id": f"c{n}",
        "strategy_id": "s1",
        "intent_seq": n,
        "leg": 0,
        "venue": "coinbase",
        "product_id": "BTC-USD",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "size": D("0.1"),
        "limit_price": D("100000.00"),
        "created_ns": NOW,
    }
    fields.update(overrides)
    return OrderIntent(**fields)


def fill(side: Side, size: str, price: str, product: str = "BTC-USD", fee: str = "0") -> Fill:
    n = next(_n)
    return Fill(
        trade_id=f"t{n}",
        client_order_id=f"c{n}",
        strategy_id="s1",
        venue="coinbase",
        product_id=product,
        side=side,
        price=D(price),
        size=D(size),
        fee=D(fee),
        liquidity=Liquidity.TAKER,
        fill_ns=NOW,
    )


def test_only_served_venues_count_as_known_products() -> None:
    b = book()
    assert set(b.products) == {("coinbase", "BTC-USD"), ("coinbase", "BIT-FUT")}
    decision, order = b.decide(intent(venue="other", product_id="X"), NOW, 1)
    assert decision.reasons == ("UNKNOWN_PRODUCT",)
    assert order is None


def test_an_approval_keeps_pending_and_tokens_a_refusal_keeps_nothing() -> None:
    b = book(strategy_rate=RateLimit(per_second=D("0.001"), burst=1))
    decision, order = b.decide(intent(), NOW, 1)
    assert decision.approved
    assert order is not None
    assert b.pending.by_position()
    refused, none = b.decide(intent(), NOW, 2)
    assert refused.reasons == ("RATE_LIMIT",)
    assert none is None
    assert len(b.pending) == 1


def test_a_redelivery_gets_the_same_decision_and_a_copy_is_a_duplicate() -> None:
    b = book()
    first = intent()
    decision, _ = b.decide(first, NOW, 7)
    # The same message (same stream sequence) gets the same answer, whatever its delivery count says:
    # after a NATS restart a redelivery can arrive counted as a first delivery.
    assert b.redelivered(first, 7) == decision
    assert b.redelivered(first, 8) is None  # a different message with the same id
    again, order = b.decide(first, NOW + 1, 8)
    assert again.reasons == ("DUPLICATE_INTENT",)
    assert order is None
    assert b.decided[first.client_order_id].decision == decision  # the first decision stands


def test_replayed_decisions_are_remembered_first_one_wins() -> None:
    b = book()
    approved = RiskDecision(client_order_id="x", strategy_id="s1", approved=True, decided_ns=1)
    b.remember(approved)
    b.remember(RiskDecision(client_order_id="x", strategy_id="s1", approved=False, decided_ns=2))
    assert b.redelivered(intent(client_order_id="x"), 99) == approved


def test_live_failures_open_the_breaker_replayed_ones_do_not() -> None:
    b = book()
    _, order = b.decide(intent(), NOW, 1)
    assert order is not None
    unknown = OrderEvent(
        client_order_id=order.client_order_id,
        strategy_id="s1",
        venue="coinbase",
        product_id="BTC-USD",
        side=Side.BUY,
        status=OrderStatus.UNKNOWN,
        size=order.size,
        event_ns=NOW,
    )
    assert b.on_event(unknown, live=False, now_ns=NOW) is None
    assert b.breaker.state is BreakerState.CLOSED
    other = OrderEvent(
        **{**{f: getattr(unknown, f) for f in unknown.__struct_fields__}, "client_order_id": "z"}
    )
    assert b.on_event(other, live=True, now_ns=NOW) is False
    assert b.breaker_state(NOW) is BreakerState.OPEN
    assert b.breaker_state(NOW + 2 * SEC) is BreakerState.HALF_OPEN


def test_daily_loss_trips_the_kill_switch_once_and_resume_waits_for_it() -> None:
    b = book()
    assert b.advance(NOW) == ""
    b.apply_fill(fill(Side.BUY, "1", "100000"))
    b.ledger.mark("coinbase", "BTC-USD", D("99950"), NOW + 1)
    assert b.advance(NOW + 1) == ""  # -50
    b.ledger.mark("coinbase", "BTC-USD", D("99900"), NOW + 2)
    reason = b.advance(NOW + 2)
    assert reason.startswith("DAILY_LOSS")
    assert b.kill_switch
    assert b.advance(NOW + 3) == ""  # latched, not tripped again
    ok, _ = b.resume()
    assert not ok
    b.limits = limits(daily_loss_limit=D(1_000))
    assert b.resume() == (True, "trading resumed")
    assert not b.halt("") or b.kill_switch


def test_restore_keeps_kill_switch_breaker_and_todays_pnl() -> None:
    before = book()
    before.advance(NOW)
    before.apply_fill(fill(Side.BUY, "1", "100000", fee="3"))
    before.halt("manual")
    before.advance(NOW + 1)
    state = before.state(NOW + 1)
    after = book()
    after.apply_fill(before._fills[0])
    after.restore_state(state, before.breaker)
    assert (after.kill_switch, after.kill_reason) == (True, "manual")
    assert after.daily.pnl == before.daily.pnl == D(-3)


def test_a_contract_size_learned_late_rebuilds_the_ledger() -> None:
    b = RiskBook(limits(), ["coinbase"])
    b.apply_fill(fill(Side.BUY, "2", "100000", product="BIT-FUT"))
    b.apply_fill(fill(Side.SELL, "1", "101000", product="BIT-FUT"))
    assert b.total_pnl() == D(1000)  # as if spot
    b.set_products([FUT])
    assert b.total_pnl() == D(10)  # 1 contract × 0.01 BTC × 1000


def test_settings_validate_and_load_from_the_environment() -> None:
    env = {"ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT": "250", "ALGOPIONEER_RISK__VENUES": "coinbase, b"}
    loaded = load_settings(RiskSettings, section="risk", environ=env)
    assert loaded.venue_ids == ("coinbase", "b")
    resolved = loaded.risk_limits()
    assert resolved.daily_loss_limit == D(250)
    assert resolved.max_position_notional == default_limits().max_position_notional
    nested = {"ALGOPIONEER_RISK__LIMITS__BREAKER__COOLDOWN_MS": "5"}
    assert load_settings(RiskSettings, section="risk", environ=nested).risk_limits().breaker.cooldown_ms == 5
    wrong = {
        "ALGOPIONEER_RISK__VENUES": " , ",
        "ALGOPIONEER_RISK__TICK_INTERVAL_S": "0",
        "ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT": "-1",
        "ALGOPIONEER_RISK__LIMITS__MAX_STALENESS_MS": "soon",
    }
    for name, value in wrong.items():
        with pytest.raises(ConfigError) as caught:
            load_settings(RiskSettings, section="risk", environ={name: value})
        assert caught.value.field.startswith(name.removeprefix("ALGOPIONEER_RISK__").split("__")[0].lower())


def test_repeated_halts_never_flatten_a_position_twice() -> None:
    b = book()
    b.apply_fill(fill(Side.BUY, "0.5", "100000"))
    first = b.plan_flatten("drill", 1, NOW)
    assert [(i.side, i.size, i.purpose.value) for i in first] == [(Side.SELL, D("0.5"), "flatten")]
    assert b.plan_flatten("again", 2, NOW) == []  # the first is planned but not decided yet
    decision, _ = b.decide(first[0], NOW, 1)
    assert decision.approved, decision.detail
    assert b.plan_flatten("again", 3, NOW) == []  # now it is a pending order closing the position


def test_flatten_leaves_out_what_an_exit_in_flight_already_closes() -> None:
    b = book()
    b.apply_fill(fill(Side.BUY, "0.5", "100000"))
    exit_, _ = b.decide(intent(side=Side.SELL, size=D("0.2")), NOW, 1)
    assert exit_.approved
    b.decide(intent(size=D("0.1")), NOW, 2)  # an entry in flight is ignored (the halt cancels it)
    assert [(i.side, i.size) for i in b.plan_flatten("drill", 1, NOW)] == [(Side.SELL, D("0.3"))]


def test_routes_are_the_enabled_specs_and_an_older_revision_never_wins() -> None:
    b = book()
    b.set_spec("p1", spec("p1", Mode.PAPER), 5)
    b.set_spec("off", spec("off", enabled=False), 6)
    assert b.routes() == {"s1": "coinbase", "s2": "coinbase", "p1": "coinbase-paper"}
    assert b.routes_to("p1", "coinbase-paper")
    assert not b.routes_to("p1", "coinbase")
    assert not b.routes_to("off", "coinbase")
    assert not b.set_spec("p1", spec("p1", Mode.LIVE), 4)  # a direct read raced by a newer watch entry
    assert b.routes()["p1"] == "coinbase-paper"
    assert b.set_spec("p1", None, 7)  # deleted
    assert "p1" not in b.routes()


def test_a_market_tick_marks_the_product_on_its_live_and_paper_venues() -> None:
    b = RiskBook(limits(), ["coinbase", "coinbase-paper", "other"])
    b.mark_market("coinbase", "BTC-USD", D("100"), NOW)
    assert set(b.ledger.marks()) == {("coinbase", "BTC-USD"), ("coinbase-paper", "BTC-USD")}


def test_every_halt_and_the_daily_loss_trip_start_a_new_epoch_that_approvals_and_state_carry() -> None:
    b = book()
    _, before = b.decide(intent(), NOW, 1)
    assert before is not None
    assert before.epoch == 0
    assert b.halt("drill")
    assert not b.halt("again")  # already halted: still a new epoch (its cancels fence what came since)
    assert b.epoch == 2
    assert b.state(NOW).epoch == 2
    assert b.resume()[0]
    _, after = b.decide(intent(), NOW, 3)
    assert after is not None
    assert after.epoch == 2
    b.apply_fill(fill(Side.BUY, "1", "100000"))
    b.ledger.mark("coinbase", "BTC-USD", D("99800"), NOW + 1)
    assert b.advance(NOW + 1).startswith("DAILY_LOSS")
    assert b.epoch == 3


def test_the_epoch_is_restored_from_state_or_replayed_approvals_never_lowered() -> None:
    first = book()
    first.halt("x")
    first.halt("y")
    first.resume()
    decision, order = first.decide(intent(), NOW, 1)
    assert order is not None
    assert order.epoch == 2
    later = book()
    later.remember(decision)
    later.restore_state(first.state(NOW), None)
    assert later.epoch == 2
    older_state = book()
    older_state.remember(decision)
    older_state.restore_state(book().state(NOW), None)  # a state stored before the halts
    assert older_state.epoch == 2


def _event(order: Order, status: OrderStatus, filled: str = "0") -> OrderEvent:
    return OrderEvent(
        client_order_id=order.client_order_id,
        strategy_id=order.strategy_id,
        venue=order.venue,
        product_id=order.product_id,
        side=order.side,
        status=status,
        size=order.size,
        filled_size=D(filled),
        event_ns=NOW,
    )


def test_replayed_approvals_count_as_pending_unless_their_events_said_they_ended() -> None:
    b = book()
    approvals = [b.decide(intent(size=D("0.1")), NOW, n)[0] for n in (1, 2, 3)]
    orders = [d.order for d in approvals]
    assert all(o is not None for o in orders)
    ended, partly, _open = (o for o in orders if o is not None)
    after = book()
    after.on_event(_event(ended, OrderStatus.FILLED, "0.1"), live=False, now_ns=NOW)  # before its approval
    after.on_event(_event(partly, OrderStatus.PARTIALLY_FILLED, "0.04"), live=False, now_ns=NOW)
    for decision in approvals:
        after.remember(decision)
    key = PositionKey("s1", "coinbase", "BTC-USD")
    assert after.pending.by_position() == {key: D("0.06") + D("0.1")}
    assert len(after.pending) == 2


def test_an_approval_never_answered_stops_counting_once_it_can_no_longer_fill() -> None:
    b = book()
    b.unanswered_grace_ns = 5 * SEC
    deadline = NOW + 2 * SEC
    answered, silent = (
        Order.from_intent(intent(), NOW, expires_ns=deadline),
        Order.from_intent(intent(), NOW, expires_ns=deadline),
    )
    for order in (answered, silent):
        b.remember(
            RiskDecision(
                client_order_id=order.client_order_id,
                strategy_id="s1",
                approved=True,
                decided_ns=NOW,
                order=order,
            )
        )
    b.on_event(_event(answered, OrderStatus.ACCEPTED), live=False, now_ns=NOW)
    skew = b.limits.clock_skew_ms * 1_000_000
    assert b.release_unanswered(deadline + skew + 5 * SEC) == []
    assert len(b.pending) == 2
    assert b.release_unanswered(deadline + skew + 5 * SEC + 1) == [silent.client_order_id]
    assert len(b.pending) == 1  # the accepted one rests on the book until a terminal event


def test_an_intent_sent_on_another_strategys_subject_is_refused_to_its_sender() -> None:
    b = book()
    forged = intent(strategy_id="s1")
    decision, order = b.decide(forged, NOW, 1, subject_strategy="s2")
    assert order is None
    assert not decision.approved
    assert "STRATEGY_MISMATCH" in decision.reasons
    assert decision.strategy_id == "s2"  # the sender hears of it
    assert not b.pending.by_position()
    b.remember(decision)  # replayed: not the id owner's decision
    assert forged.client_order_id not in b.decided
    own, sent = b.decide(forged, NOW, 2, subject_strategy="s1")
    assert own.approved, own.detail
    assert sent is not None


def test_an_approval_carries_its_order_and_the_verdicts_deadline() -> None:
    """Needs the deadline from `check_intent` (RiskVerdict.expires_ns)."""
    b = book()
    asked = NOW + 2 * SEC  # within the 10 s ceiling from created_ns
    decision, order = b.decide(intent(expires_ns=asked), NOW, 1)
    assert decision.approved, decision.detail
    assert decision.order == order
    assert order is not None
    assert order.expires_ns == asked


def test_a_strategy_without_an_enabled_spec_may_only_reduce() -> None:
    """Needs `check_intent`'s UNKNOWN_STRATEGY and WRONG_VENUE checks."""
    b = book()
    b.apply_fill(fill(Side.BUY, "0.5", "100000"))
    b.set_spec("s1", spec("s1", enabled=False), 10)  # stopped
    entry, _ = b.decide(intent(), NOW, 1)
    assert "UNKNOWN_STRATEGY" in entry.reasons
    exit_, _ = b.decide(intent(side=Side.SELL, size=D("0.2")), NOW, 2)
    assert exit_.approved, exit_.detail
    b.set_spec("s1", spec("s1", Mode.PAPER), 11)
    wrong, _ = b.decide(intent(), NOW, 3)
    assert "WRONG_VENUE" in wrong.reasons


def test_the_latest_approved_entry_per_position_is_kept_and_rebuilt_from_decisions() -> None:
    b = book()
    first, _ = b.decide(intent(size=D("0.1")), NOW, 1)
    latest, _ = b.decide(intent(size=D("0.2")), NOW, 2)
    b.apply_fill(fill(Side.BUY, "0.3", "100000"))
    b.decide(intent(side=Side.SELL, size=D("0.1"), purpose=Purpose.EXIT), NOW, 3)
    key = PositionKey("s1", "coinbase", "BTC-USD")
    assert b.context(NOW).entries == {key: D("0.2")}
    after = book()
    for decision in (first, latest):
        after.remember(decision)
    assert after.context(NOW).entries == {key: D("0.2")}


def test_markets_are_served_on_their_live_and_paper_venues() -> None:
    assert RiskSettings().route_ids == ("coinbase", "coinbase-paper")
    env = {"ALGOPIONEER_RISK__VENUES": "coinbase-paper"}
    with pytest.raises(ConfigError) as caught:
        load_settings(RiskSettings, section="risk", environ=env)
    assert caught.value.field == "venues"


def test_live_runs_can_require_every_cap_to_be_set_explicitly() -> None:
    strict = {
        "ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS": "true",
        "ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT": "250",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(RiskSettings, section="risk", environ=strict)
    assert caught.value.field == "limits"
    for name in ("max_position_notional", "max_strategy_notional", "max_gross_exposure"):
        assert name in caught.value.problem
    assert "daily_loss_limit" not in caught.value.problem
    caps = {
        "ALGOPIONEER_RISK__LIMITS__MAX_POSITION_NOTIONAL": "5000",
        "ALGOPIONEER_RISK__LIMITS__MAX_STRATEGY_NOTIONAL": "6000",
        "ALGOPIONEER_RISK__LIMITS__MAX_GROSS_EXPOSURE": "7000",
    }
    loaded = load_settings(RiskSettings, section="risk", environ={**strict, **caps}).risk_limits()
    assert (loaded.max_gross_exposure, loaded.daily_loss_limit) == (D(7000), D(250))
    assert load_settings(RiskSettings, section="risk", environ={}).risk_limits() == default_limits()
