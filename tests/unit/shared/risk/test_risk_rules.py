"""check_intent: every reason code with a failing case, passing neighbours, and the reducing rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.ledger import Mark, PositionKey
from shared.messages.base import Side
from shared.messages.orders import OrderType, Purpose
from shared.messages.risk import BreakerState
from shared.risk import Breaker, RateBuckets, RateLimit, Reason, check_intent
from tests.unit.shared.risk.helpers import (
    FUT,
    NOW,
    SEC,
    SPOT,
    VENUE,
    context,
    intent,
    limits,
    marks,
    position,
)

D = Decimal
OPEN = Breaker(state=BreakerState.OPEN, opened_ns=NOW - SEC)


def reasons(verdict: object) -> set[str]:
    return set(verdict.reasons)  # type: ignore[attr-defined]


def test_default_intent_is_approved_and_takes_a_token() -> None:
    ctx = context()
    verdict = check_intent(intent(), ctx)
    assert verdict.approved, verdict.detail
    assert verdict.reasons == ()
    assert verdict.buckets != ctx.buckets
    assert not verdict.probe


def test_refusal_leaves_state_unchanged_and_explains_itself() -> None:
    ctx = context(kill_switch=True)
    verdict = check_intent(intent(), ctx)
    assert not verdict.approved
    assert verdict.reasons == (Reason.KILL_SWITCH.value,)
    assert verdict.buckets is ctx.buckets
    assert verdict.breaker is ctx.breaker
    assert "KILL_SWITCH" in verdict.detail
    decision = verdict.decision(intent(client_order_id="x"), NOW)
    assert decision.approved is False
    assert decision.reasons == ("KILL_SWITCH",)


@pytest.mark.parametrize(
    ("overrides", "ctx_overrides", "code"),
    [
        ({}, {"kill_switch": True}, Reason.KILL_SWITCH),
        ({}, {"breaker": OPEN}, Reason.BREAKER_OPEN),
        ({"size": D("2.5"), "limit_price": None, "order_type": OrderType.MARKET}, {}, Reason.MAX_POSITION),
        ({"size": D("1.6")}, {}, Reason.MAX_POSITION_NOTIONAL),
        ({}, {"limits": limits(max_strategy_notional=D("5000"))}, Reason.MAX_STRATEGY_NOTIONAL),
        ({}, {"limits": limits(max_gross_exposure=D("5000"))}, Reason.GROSS_EXPOSURE),
        ({}, {"daily_pnl": D("-1000")}, Reason.DAILY_LOSS),
        ({"limit_price": D("100600.00")}, {}, Reason.PRICE_BAND),
        ({}, {"marks": marks(now=NOW - 3 * SEC)}, Reason.STALE_MARKET_DATA),
        ({}, {"marks": {}}, Reason.STALE_MARKET_DATA),
        ({"size": D("0.123456789")}, {}, Reason.OFF_GRID_SIZE),
        ({"limit_price": D("100000.005")}, {}, Reason.OFF_GRID_PRICE),
        ({"size": D("0.000001")}, {}, Reason.BELOW_MIN_SIZE),
        ({"size": D("0.00001"), "limit_price": D("99999.99")}, {}, Reason.BELOW_MIN_SIZE),
        ({"product_id": "DOGE-USD"}, {}, Reason.UNKNOWN_PRODUCT),
        ({"venue": "kraken"}, {}, Reason.UNKNOWN_PRODUCT),
        ({"size": D("NaN")}, {}, Reason.INVALID_NUMBER),
        ({"size": D("Infinity")}, {}, Reason.INVALID_NUMBER),
        ({"size": D("-0.1")}, {}, Reason.INVALID_NUMBER),
        ({"size": D("0")}, {}, Reason.INVALID_NUMBER),
        ({"limit_price": D("-Infinity")}, {}, Reason.INVALID_NUMBER),
        ({"limit_price": D("sNaN")}, {}, Reason.INVALID_NUMBER),
        ({"limit_price": None}, {}, Reason.INVALID_NUMBER),
        ({"reference_price": D("NaN")}, {}, Reason.INVALID_NUMBER),
        ({"client_order_id": "seen"}, {"seen_intents": frozenset({"seen"})}, Reason.DUPLICATE_INTENT),
    ],
)
def test_each_reason_code_fails_with_its_code(
    overrides: dict[str, object], ctx_overrides: dict[str, object], code: Reason
) -> None:
    verdict = check_intent(intent(**overrides), context(**ctx_overrides))
    assert not verdict.approved
    assert code.value in verdict.reasons, verdict.detail


def test_rate_limit_per_strategy_and_per_venue() -> None:
    tight = limits(strategy_rate=RateLimit(per_second=D("1"), burst=2))
    ctx = context(limits=tight)
    for _ in range(2):
        verdict = check_intent(intent(), ctx)
        assert verdict.approved
        ctx = context(limits=tight, buckets=verdict.buckets)
    refused = check_intent(intent(), ctx)
    assert refused.reasons == (Reason.RATE_LIMIT.value,)
    assert check_intent(intent(strategy_id="s2"), ctx).approved  # another strategy has its own bucket
    later = context(limits=tight, buckets=ctx.buckets, now_ns=NOW + SEC, marks=marks(NOW + SEC))
    assert check_intent(intent(), later).approved  # refilled one token

    venue_tight = limits(venue_rate=RateLimit(per_second=D("1"), burst=1))
    first = check_intent(intent(strategy_id="a"), context(limits=venue_tight))
    second = check_intent(intent(strategy_id="b"), context(limits=venue_tight, buckets=first.buckets))
    assert Reason.RATE_LIMIT.value in second.reasons


def test_rejected_intents_do_not_drain_the_bucket() -> None:
    tight = limits(strategy_rate=RateLimit(per_second=D("1"), burst=1))
    ctx = context(limits=tight, buckets=RateBuckets())
    for _ in range(5):
        assert not check_intent(intent(size=D("NaN")), ctx).approved
    assert check_intent(intent(), ctx).approved


def test_passing_neighbours_of_each_limit() -> None:
    ctx = context()
    assert check_intent(intent(limit_price=D("100500.00")), ctx).approved  # exactly 50 bps
    assert check_intent(intent(size=D("1.5")), ctx).approved  # notional exactly at cap
    fresh = context(marks=marks(now=NOW - 2 * SEC))  # exactly at the staleness limit
    assert check_intent(intent(), fresh).approved
    assert check_intent(intent(size=D("0.00001"), limit_price=D("100000.00")), ctx).approved  # = min


def test_futures_use_contract_size() -> None:
    fut = {"product_id": FUT, "limit_price": D("100000")}
    ctx = context()
    assert check_intent(intent(size=D("150"), **fut), ctx).approved  # 1.5 BTC = 150,000 USD
    over = check_intent(intent(size=D("151"), **fut), ctx)
    assert Reason.MAX_POSITION_NOTIONAL.value in over.reasons
    assert Reason.MAX_POSITION.value not in over.reasons  # 1.51 BTC < 2 BTC
    assert Reason.OFF_GRID_SIZE.value in check_intent(intent(size=D("1.5"), **fut), ctx).reasons
    off_price = check_intent(intent(size=D("1"), product_id=FUT, limit_price=D("100002")), context())
    assert off_price.reasons == (Reason.OFF_GRID_PRICE.value,)


def test_every_failure_is_reported_not_only_the_first() -> None:
    verdict = check_intent(
        intent(size=D("3.000000001"), limit_price=D("120000.001")),
        context(kill_switch=True, daily_pnl=D("-5000"), breaker=OPEN),
    )
    assert {
        "KILL_SWITCH",
        "DAILY_LOSS",
        "BREAKER_OPEN",
        "OFF_GRID_SIZE",
        "OFF_GRID_PRICE",
        "PRICE_BAND",
        "MAX_POSITION",
        "MAX_POSITION_NOTIONAL",
    } <= reasons(verdict)


@pytest.mark.parametrize("purpose", [Purpose.EXIT, Purpose.UNWIND, Purpose.FLATTEN, Purpose.HEDGE])
def test_a_declared_purpose_alone_passes_neither_the_kill_switch_nor_the_daily_loss(purpose: Purpose) -> None:
    """The label is the intent speaking about itself: with nothing held, an 'exit' opens a position."""
    ctx = context(kill_switch=True, daily_pnl=D("-99999"))
    verdict = check_intent(intent(purpose=purpose, side=Side.SELL), ctx)
    assert {"KILL_SWITCH", "DAILY_LOSS"} <= reasons(verdict)
    assert not verdict.reducing


@pytest.mark.parametrize("purpose", [Purpose.EXIT, Purpose.UNWIND, Purpose.FLATTEN, Purpose.CORRECTIVE])
def test_reductions_pass_the_kill_switch_and_daily_loss_by_the_ledger(purpose: Purpose) -> None:
    ctx = context(kill_switch=True, daily_pnl=D("-99999"), positions=(position("0.5"),))
    verdict = check_intent(intent(purpose=purpose, side=Side.SELL, size=D("0.5")), ctx)
    assert verdict.approved, verdict.detail
    assert verdict.reducing


def test_an_exit_that_would_flip_the_position_is_refused_under_a_halt() -> None:
    ctx = context(kill_switch=True, positions=(position("0.5"),))
    flip = check_intent(intent(purpose=Purpose.EXIT, side=Side.SELL, size=D("0.6")), ctx)
    assert reasons(flip) == {"KILL_SWITCH"}
    wrong_way = check_intent(intent(purpose=Purpose.FLATTEN, side=Side.BUY, size=D("0.1")), ctx)
    assert reasons(wrong_way) == {"KILL_SWITCH"}


def test_pending_exits_count_so_two_exits_cannot_flip_a_position_together() -> None:
    key = PositionKey("s1", VENUE, SPOT)
    ctx = context(kill_switch=True, positions=(position("0.5"),), pending_sells={key: D("-0.4")})
    assert check_intent(intent(purpose=Purpose.EXIT, side=Side.SELL, size=D("0.1")), ctx).approved
    second = check_intent(intent(purpose=Purpose.EXIT, side=Side.SELL, size=D("0.2")), ctx)
    assert reasons(second) == {"KILL_SWITCH"}


def test_a_hedge_passes_a_halt_only_when_its_partner_leg_is_filled() -> None:
    """Basis-style legs: 0.5 BTC spot bought; the future leg (short) filled 20 of the 50 contracts."""
    spot_key, fut_key = PositionKey("s1", VENUE, SPOT), PositionKey("s1", VENUE, FUT)
    entries = {spot_key: D("0.5"), fut_key: D("-50")}
    hedge = {"purpose": Purpose.HEDGE, "product_id": FUT, "side": Side.SELL, "size": D("30")}
    hedge |= {"limit_price": None, "order_type": OrderType.MARKET}
    filled = (position("0.5"), position("-20", product=FUT))
    ctx = context(kill_switch=True, positions=filled, entries=entries)
    completes = check_intent(intent(**hedge), ctx)
    assert completes.approved, completes.detail
    assert completes.reducing
    over = check_intent(intent(**(hedge | {"size": D("31")})), ctx)
    assert reasons(over) == {"KILL_SWITCH"}  # more than the entry asked for is a new position
    no_partner = context(kill_switch=True, positions=(position("-20", product=FUT),), entries=entries)
    assert reasons(check_intent(intent(**hedge), no_partner)) == {"KILL_SWITCH"}
    no_entry = context(kill_switch=True, positions=filled)
    assert reasons(check_intent(intent(**hedge), no_entry)) == {"KILL_SWITCH"}


def test_a_stale_intent_is_refused_and_an_approval_carries_the_deadline() -> None:
    fresh = check_intent(intent(created_ns=NOW - SEC, expires_ns=NOW + 4 * SEC), context())
    assert fresh.approved
    assert fresh.expires_ns == NOW + 4 * SEC
    ceiling = check_intent(intent(created_ns=NOW - SEC), context())  # no deadline given: 10 s ceiling
    assert ceiling.expires_ns == NOW + 9 * SEC
    far = check_intent(intent(created_ns=NOW - SEC, expires_ns=NOW + 3600 * SEC), context())
    assert far.expires_ns == NOW + 9 * SEC  # an intent cannot outlive risk's ceiling
    late = check_intent(intent(created_ns=NOW - 6 * SEC, expires_ns=NOW - SEC), context())
    assert reasons(late) == {"STALE_INTENT"}
    old = check_intent(intent(created_ns=NOW - 11 * SEC), context())
    assert reasons(old) == {"STALE_INTENT"}
    future = check_intent(intent(created_ns=NOW + 2 * SEC), context())
    assert reasons(future) == {"STALE_INTENT"}
    assert check_intent(intent(created_ns=NOW + SEC // 2), context()).approved  # within the skew


def test_stale_reductions_are_refused_too() -> None:
    ctx = context(kill_switch=True, positions=(position("0.5"),))
    verdict = check_intent(intent(side=Side.SELL, created_ns=NOW - 11 * SEC), ctx)
    assert reasons(verdict) == {"STALE_INTENT"}


def test_the_spec_mode_decides_the_venue() -> None:
    paper = {"s1": "coinbase-paper"}
    wrong = check_intent(intent(), context(routes=paper))
    assert reasons(wrong) == {"WRONG_VENUE"}
    assert check_intent(intent(), context(routes={"s1": VENUE})).approved
    held = context(routes=paper, positions=(position("0.5"),))
    assert check_intent(intent(side=Side.SELL, size=D("0.5")), held).approved  # reducing what it holds


def test_a_strategy_without_an_enabled_spec_may_only_reduce() -> None:
    ctx = context(routes={}, positions=(position("0.5"),))
    assert reasons(check_intent(intent(), ctx)) == {"UNKNOWN_STRATEGY"}
    assert check_intent(intent(side=Side.SELL, size=D("0.5"), purpose=Purpose.CORRECTIVE), ctx).approved


def test_an_intent_must_come_on_its_own_strategy_subject() -> None:
    mismatch = check_intent(intent(), context(subject_strategy="s2"))
    assert reasons(mismatch) == {"STRATEGY_MISMATCH"}
    assert check_intent(intent(), context(subject_strategy="s1")).approved


def test_an_order_that_shrinks_the_position_passes_the_kill_switch_whatever_its_purpose() -> None:
    ctx = context(kill_switch=True, daily_pnl=D("-99999"), positions=(position("0.5"),))
    assert check_intent(intent(side=Side.SELL, size=D("0.5"), limit_price=D("100000")), ctx).approved
    flip = check_intent(intent(side=Side.SELL, size=D("0.6"), limit_price=D("100000")), ctx)
    assert {"KILL_SWITCH", "DAILY_LOSS"} <= reasons(flip)
    adding = check_intent(intent(side=Side.BUY), ctx)
    assert {"KILL_SWITCH", "DAILY_LOSS"} <= reasons(adding)
    corrective = check_intent(intent(purpose=Purpose.CORRECTIVE), ctx)
    assert "KILL_SWITCH" in corrective.reasons


def test_pending_orders_count_towards_position_and_reduction() -> None:
    key = PositionKey("s1", VENUE, SPOT)
    ctx = context(pending={key: D("1.5")})
    assert Reason.MAX_POSITION_NOTIONAL.value in check_intent(intent(), ctx).reasons
    halted = context(
        kill_switch=True,
        positions=(position("0.5"),),
        pending={key: D("-0.5")},
        pending_sells={key: D("-0.5")},
    )
    assert not check_intent(intent(side=Side.SELL, size=D("0.1")), halted).approved  # exit already out


def test_reducing_orders_still_obey_the_breaker() -> None:
    ctx = context(kill_switch=True, breaker=OPEN, positions=(position("1"),))
    verdict = check_intent(intent(side=Side.SELL, purpose=Purpose.FLATTEN), ctx)
    assert verdict.reasons == (Reason.BREAKER_OPEN.value,)


def test_half_open_lets_exactly_one_probe_through() -> None:
    half = Breaker(state=BreakerState.OPEN, opened_ns=NOW - 11 * SEC)
    ctx = context(breaker=half)
    first = check_intent(intent(), ctx)
    assert first.approved
    assert first.probe
    assert first.breaker.state is BreakerState.HALF_OPEN
    second = check_intent(intent(purpose=Purpose.FLATTEN), context(breaker=first.breaker))
    assert second.reasons == (Reason.BREAKER_OPEN.value,)
    refused_first = check_intent(intent(size=D("NaN")), ctx)
    assert refused_first.breaker is ctx.breaker  # a refused intent does not use up the probe


def test_caps_never_block_a_reduction_of_a_book_already_over_them() -> None:
    small = limits(
        max_position_base={SPOT: D("0.1")},
        max_position_notional=D("1000"),
        max_strategy_notional=D("1000"),
        max_gross_exposure=D("1000"),
    )
    ctx = context(limits=small, positions=(position("1"),))
    assert check_intent(intent(side=Side.SELL, size=D("0.5")), ctx).approved
    worse = check_intent(intent(side=Side.BUY, size=D("0.01")), ctx)
    assert {"MAX_POSITION", "MAX_POSITION_NOTIONAL", "MAX_STRATEGY_NOTIONAL", "GROSS_EXPOSURE"} <= reasons(
        worse
    )


def test_max_position_is_across_strategies_and_strategy_notional_is_per_strategy() -> None:
    ctx = context(positions=(position("1.45", strategy="other"),))
    assert Reason.MAX_POSITION_NOTIONAL.value in check_intent(intent(), ctx).reasons
    busy = context(
        limits=limits(max_strategy_notional=D("50000")),
        positions=(position("5", strategy="s1", product=FUT), position("0.5", strategy="other")),
    )
    # s1 holds 5 contracts × 0.01 × 100,000 = 5,000 USD; the other strategy's book does not count
    assert check_intent(intent(size=D("0.45")), busy).approved
    assert Reason.MAX_STRATEGY_NOTIONAL.value in check_intent(intent(size=D("0.5")), busy).reasons


def test_exposure_values_products_without_a_mark_at_their_average_price() -> None:
    ctx = context(
        limits=limits(max_gross_exposure=D("100000")),
        marks={(VENUE, SPOT): Mark(price=D("100000"), ts_ns=NOW)},
        positions=(position("90", product=FUT, avg="100000"),),  # 90 × 0.01 × 100,000 = 90,000
    )
    assert Reason.GROSS_EXPOSURE.value in check_intent(intent(size=D("0.2")), ctx).reasons
    assert check_intent(intent(size=D("0.1")), ctx).approved


def test_huge_sizes_are_refused_without_raising() -> None:
    for size in (D("1e40"), D("9e999999")):
        verdict = check_intent(intent(size=size), context())
        assert verdict.reasons == (Reason.INVALID_NUMBER.value,)
    off = check_intent(
        intent(size=D("123456789012.000000001"), order_type=OrderType.MARKET, limit_price=None), context()
    )
    assert Reason.OFF_GRID_SIZE.value in off.reasons


def test_market_orders_are_not_price_banded_but_need_fresh_data() -> None:
    market = {"order_type": OrderType.MARKET, "limit_price": None}
    assert check_intent(intent(**market), context()).approved
    assert Reason.STALE_MARKET_DATA.value in check_intent(intent(**market), context(marks={})).reasons


def test_a_limit_order_is_valued_at_the_higher_of_its_limit_and_the_mid() -> None:
    # 0.5 BTC: 50,000 at the mid; a sell resting 40 bps above it fills at 100,400 = 50,200.
    ctx = context(limits=limits(max_position_notional=D("50100")))
    at_mid = intent(side=Side.SELL, size=D("0.5"), limit_price=D("100000.00"))
    above = intent(side=Side.SELL, size=D("0.5"), limit_price=D("100400.00"))
    below = intent(side=Side.BUY, size=D("0.5"), limit_price=D("99600.00"))
    assert check_intent(at_mid, ctx).approved
    assert Reason.MAX_POSITION_NOTIONAL.value in check_intent(above, ctx).reasons
    assert check_intent(below, ctx).approved  # a buy resting below is valued at the mid, never less
    market = intent(side=Side.BUY, size=D("0.502"), order_type=OrderType.MARKET, limit_price=None)
    assert Reason.MAX_POSITION_NOTIONAL.value in check_intent(market, ctx).reasons
