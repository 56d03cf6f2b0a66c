"""Properties of check_intent over arbitrary inputs: it never raises, and refusals change nothing."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ledger import Ledger, PositionKey
from shared.messages.base import Side
from shared.messages.orders import OrderType, Purpose
from shared.risk import Exposure, Reason, check_intent
from tests.unit.shared.risk.helpers import FUT, NOW, SPOT, VENUE, context, intent, marks, position

D = Decimal
_numbers = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True, places=8),
    st.sampled_from([D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity"), D(0), D("-1"), D("1e30")]),
    st.integers(1, 10**7).map(lambda n: D(n) / 100),
)


@settings(max_examples=300, deadline=None)
@given(
    size=_numbers,
    price=st.one_of(st.none(), _numbers),
    side=st.sampled_from(list(Side)),
    purpose=st.sampled_from(list(Purpose)),
    product=st.sampled_from([SPOT, FUT, "ETH-USD"]),
    held=st.integers(-300, 300).map(lambda n: D(n) / 100),
    kill=st.booleans(),
    daily=st.sampled_from([D(0), D("-5000"), D("NaN")]),
)
def test_never_raises_and_refusals_leave_state_alone(
    size: Decimal,
    price: Decimal | None,
    side: Side,
    purpose: Purpose,
    product: str,
    held: Decimal,
    kill: bool,
    daily: Decimal,
) -> None:
    order_type = OrderType.MARKET if price is None else OrderType.LIMIT
    ctx = context(kill_switch=kill, daily_pnl=daily, positions=(position(str(held)),))
    verdict = check_intent(
        intent(
            size=size,
            limit_price=price,
            order_type=order_type,
            side=side,
            purpose=purpose,
            product_id=product,
        ),
        ctx,
    )
    assert verdict.approved == (verdict.reasons == ())
    assert set(verdict.reasons) <= {r.value for r in Reason}
    if not verdict.approved:
        assert verdict.buckets is ctx.buckets
        assert verdict.breaker is ctx.breaker
    if not (size.is_finite() and size > 0):
        assert Reason.INVALID_NUMBER.value in verdict.reasons
    if verdict.approved and (kill or not daily.is_finite() or daily <= -1000):
        assert verdict.reducing


def test_nan_daily_pnl_fails_closed_but_lets_reductions_out() -> None:
    ctx = context(daily_pnl=D("NaN"), positions=(position("0.5"),))
    assert check_intent(intent(), ctx).reasons == (Reason.DAILY_LOSS.value,)
    assert check_intent(intent(side=Side.SELL), ctx).approved


def test_context_built_from_a_ledger() -> None:
    """The wiring the service uses: positions and marks come straight from the ledger."""
    ledger = Ledger({(VENUE, FUT): D("0.01")})
    ledger.mark(VENUE, SPOT, D("100000"), NOW)
    ledger.mark(VENUE, FUT, D("100000"), NOW)
    ctx = context(positions=ledger.positions(), marks=ledger.marks())
    assert check_intent(intent(), ctx).approved
    exposure = Exposure(ledger.positions(), {PositionKey("s1", VENUE, FUT): D("10")}, marks(), ctx.products)
    assert exposure.total_gross() == D("10000")
