"""Ledger: increases, reductions, flips, contract size, fees, idempotence, rebuild and snapshot."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ledger import Ledger, LedgerError, LedgerSnapshot
from shared.messages.base import Side
from shared.messages.orders import Fill, Liquidity

D = Decimal
V = "coinbase"
SPOT = "BTC-USD"
FUT = "BIT-28NOV25-CDE"
_n = iter(range(10**9))


def fill(side: Side, size: str, price: str, fee: str = "0", **kw: object) -> Fill:
    n = next(_n)
    fields: dict[str, object] = {
        "trade_id": f"t{n}",
        "client_order_id": f"c{n}",
        "strategy_id": "s1",
        "venue": V,
        "product_id": SPOT,
        "side": side,
        "price": D(price),
        "size": D(size),
        "fee": D(fee),
        "liquidity": Liquidity.TAKER,
        "fill_ns": n,
    }
    fields.update(kw)
    return Fill(**fields)  # type: ignore[arg-type]


def test_increase_averages_and_reduction_realizes_with_fees() -> None:
    led = Ledger()
    led.apply(fill(Side.BUY, "1", "100", fee="1"))
    led.apply(fill(Side.BUY, "1", "110", fee="1"))
    p = led.position("s1", V, SPOT)
    assert p is not None
    assert p.quantity == 2
    assert p.average_price == 105
    assert p.realized_pnl == -2
    led.apply(fill(Side.SELL, "0.5", "120", fee="0.5"))
    p = led.position("s1", V, SPOT)
    assert p is not None
    assert p.quantity == D("1.5")
    assert p.average_price == 105
    assert p.realized_pnl == D("-2") + D("7.5") - D("0.5")
    assert p.fees == D("2.5")


def test_flip_through_zero_closes_then_opens_at_the_fill_price() -> None:
    led = Ledger()
    led.apply(fill(Side.BUY, "1", "100"))
    led.apply(fill(Side.SELL, "3", "90"))
    p = led.position("s1", V, SPOT)
    assert p is not None
    assert p.quantity == -2
    assert p.average_price == 90
    assert p.realized_pnl == -10
    led.apply(fill(Side.BUY, "2", "80"))
    p = led.position("s1", V, SPOT)
    assert p is not None
    assert p.quantity == 0
    assert p.average_price == 0
    assert p.realized_pnl == 10


def test_unrealized_from_marks_for_long_and_short() -> None:
    led = Ledger()
    led.apply(fill(Side.BUY, "2", "100"))
    led.apply(fill(Side.SELL, "1", "50", strategy_id="s2"))
    led.mark(V, SPOT, D("110"), 1)
    led.mark(V, SPOT, D("999"), 0)  # older: ignored
    long, short = led.position("s1", V, SPOT), led.position("s2", V, SPOT)
    assert long is not None
    assert long.unrealized_pnl == 20
    assert long.mark == 110
    assert short is not None
    assert short.unrealized_pnl == -60


def test_futures_contract_size_scales_pnl() -> None:
    led = Ledger({(V, FUT): D("0.01")})
    led.apply(fill(Side.BUY, "10", "100000", fee="2", product_id=FUT))
    led.mark(V, FUT, D("101000"), 5)
    p = led.position("s1", V, FUT)
    assert p is not None
    assert p.unrealized_pnl == D("100")
    led.apply(fill(Side.SELL, "4", "102000", fee="1", product_id=FUT))
    p = led.position("s1", V, FUT)
    assert p is not None
    assert p.realized_pnl == D("80") - D("3")
    assert p.quantity == 6


def test_same_trade_twice_changes_nothing() -> None:
    led = Ledger()
    f = fill(Side.BUY, "1", "100", fee="1")
    assert led.apply(f) is True
    before = led.snapshot()
    assert led.apply(f) is False
    assert led.snapshot() == before
    other_venue = msgspec.structs.replace(f, venue="paper")
    assert led.apply(other_venue) is True  # trade ids are per venue


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("size", D("NaN")),
        ("size", D("-1")),
        ("size", D(0)),
        ("price", D("Infinity")),
        ("price", D("-5")),
        ("fee", D("NaN")),
        ("size", D("9e999999")),
        ("fee", D("-1e30")),
    ],
)
def test_bad_fills_are_refused_and_change_nothing(field: str, value: Decimal) -> None:
    led = Ledger()
    bad = msgspec.structs.replace(fill(Side.BUY, "1", "100"), **{field: value})
    with pytest.raises(LedgerError, match=field):
        led.apply(bad)
    assert led.snapshot() == LedgerSnapshot()


def test_bad_marks_and_contract_sizes_are_refused() -> None:
    with pytest.raises(LedgerError):
        Ledger({(V, FUT): D(0)})
    with pytest.raises(LedgerError):
        Ledger().mark(V, SPOT, D("NaN"), 0)


def test_summary_aggregates_per_strategy_product_and_portfolio() -> None:
    led = Ledger({(V, FUT): D("0.01")})
    led.apply(fill(Side.BUY, "1", "100", fee="1"))
    led.apply(fill(Side.SELL, "1", "110", fee="1"))  # s1 spot: +10 − 2 = 8
    led.apply(fill(Side.SELL, "100", "100", strategy_id="s2", product_id=FUT))
    led.apply(fill(Side.BUY, "1", "100", strategy_id="s2"))
    led.mark(V, FUT, D("90"), 1)  # s2 fut: −100 × 0.01 × −10 = +10
    led.mark(V, SPOT, D("95"), 1)  # s2 spot: −5
    s = led.summary(42)
    assert s.by_strategy == {"s1": D("8"), "s2": D("5")}
    assert s.by_product == {SPOT: D("3"), FUT: D("10")}
    assert (s.realized, s.unrealized, s.fees, s.total) == (D("8"), D("5"), D("2"), D("13"))
    assert len(s.positions) == 3
    assert s.summary_ns == 42


def test_snapshot_round_trips_through_msgpack_and_restores_exactly() -> None:
    led = Ledger({(V, FUT): D("0.01")})
    led.apply(fill(Side.BUY, "3", "100.33", fee="0.07"))
    led.apply(fill(Side.SELL, "1", "101.01", fee="0.02"))
    led.mark(V, SPOT, D("100.5"), 9)
    snap = msgspec.msgpack.decode(msgspec.msgpack.encode(led.snapshot()), type=LedgerSnapshot)
    restored = Ledger.restore(snap)
    assert restored.snapshot() == led.snapshot()
    assert restored.summary(1) == led.summary(1)
    nxt = fill(Side.SELL, "2", "99", fee="0.01")
    led.apply(nxt)
    restored.apply(nxt)
    assert restored.summary(2) == led.summary(2)


# ---- properties ----
_decimals = st.integers(1, 10**6).map(lambda n: D(n) / 100)  # 0.01 .. 10,000.00
_fill_args = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 500).map(lambda n: D(n) / 100),  # size 0.01 .. 5.00
    _decimals,
    st.integers(-100, 500).map(lambda n: D(n) / 1000),  # fee, rebates included
    st.sampled_from(["s1", "s2"]),
    st.sampled_from([SPOT, FUT]),
)


def _fills(args: list[tuple[Side, Decimal, Decimal, Decimal, str, str]]) -> list[Fill]:
    return [
        fill(side, str(size), str(price), str(fee), strategy_id=strat, product_id=prod)
        for side, size, price, fee, strat, prod in args
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(_fill_args, max_size=40))
def test_realized_plus_unrealized_equals_cash_flow(
    args: list[tuple[Side, Decimal, Decimal, Decimal, str, str]],
) -> None:
    sizes = {(V, SPOT): D(1), (V, FUT): D("0.01")}
    led = Ledger(sizes)
    fills = _fills(args)
    led.apply_all(fills)
    last: dict[str, Decimal] = {}
    for f in fills:
        last[f.product_id] = f.price
    for product, price in last.items():
        led.mark(V, product, price, 0)
    cash = sum((-f.side.sign * f.size * f.price * sizes[(V, f.product_id)] - f.fee for f in fills), D(0))
    marked = sum((p.quantity * last[p.product_id] * sizes[(V, p.product_id)] for p in led.positions()), D(0))
    assert led.summary(0).total == cash + marked
    qty: dict[tuple[str, str], Decimal] = {}
    for f in fills:
        qty[(f.strategy_id, f.product_id)] = (
            qty.get((f.strategy_id, f.product_id), D(0)) + f.side.sign * f.size
        )
    assert {(k.strategy_id, k.product_id): q for k, q in led.quantities().items()} == qty


@settings(max_examples=100, deadline=None)
@given(st.lists(_fill_args, max_size=30), st.randoms(use_true_random=False))
def test_replaying_fills_twice_or_with_duplicates_is_idempotent(
    args: list[tuple[Side, Decimal, Decimal, Decimal, str, str]], rnd: object
) -> None:
    fills = _fills(args)
    once = Ledger()
    once.apply_all(fills)
    twice = Ledger()
    twice.apply_all(fills)
    assert twice.apply_all(fills) == 0
    assert twice.snapshot() == once.snapshot()
    rebuilt = Ledger()
    with_dups = [f for f in fills for _ in range(2)]
    rebuilt.apply_all(with_dups)
    assert rebuilt.snapshot() == once.snapshot()
    assert Ledger.restore(once.snapshot()).snapshot() == once.snapshot()
