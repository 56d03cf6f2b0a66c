"""Intents, specs, settings and the restore rules."""

from __future__ import annotations

import msgspec
import pytest

from services.strategy.build import build_engine, costs_for, strategy_for
from services.strategy.config import StrategySettings
from services.strategy.orders import build_intent
from services.strategy.sdk_engine import SdkEngine
from services.strategy.specs import SpecError, decode_spec, validate_spec
from services.strategy.twoleg_engine import TwoLegEngine
from shared import codec
from shared.messages import FeeRates
from shared.messages.base import Side
from shared.messages.orders import OrderType, Purpose, TimeInForce, client_order_id
from shared.messages.snapshots import InstanceSnapshot, MaBook
from shared.messages.strategy import BasisParams, MaCrossoverParams, Mode, PairsParams, StrategySpec
from shared.strategies import MaCrossover, OrderRequest
from tests.unit.services.strategy.helpers import D, info

MA = StrategySpec(id="ma-1", params=MaCrossoverParams(product_id="BTC-USD", short_window=2, long_window=3))


def request(size: str, price: str = "100") -> OrderRequest:
    return OrderRequest(
        seq=7, leg=1, side=Side.SELL, size=D(size), purpose=Purpose.EXIT, reference_price=D(price)
    )


def test_an_intent_is_rounded_down_to_the_grid_market_ioc_with_a_deterministic_id() -> None:
    intent = build_intent(MA, "BTC-USD", info("BTC-USD", "0.001"), request("1.23456", "100.006"), 5)
    assert not isinstance(intent, str)
    assert intent.size == D("1.234")
    assert intent.reference_price == D("100.01")
    assert intent.client_order_id == client_order_id("ma-1", 7, 1)
    assert (intent.order_type, intent.time_in_force, intent.intent_seq) == (
        OrderType.MARKET,
        TimeInForce.IOC,
        7,
    )


@pytest.mark.parametrize(("mode", "venue"), [(Mode.PAPER, "coinbase-paper"), (Mode.LIVE, "coinbase")])
def test_an_intent_goes_where_the_mode_says_with_a_deadline_of_the_specs_ttl(mode: Mode, venue: str) -> None:
    spec = msgspec.structs.replace(MA, mode=mode, order_ttl_ms=1_500)
    intent = build_intent(spec, "BTC-USD", info("BTC-USD", "0.001"), request("1"), 5_000)
    assert not isinstance(intent, str)
    assert intent.venue == venue
    assert (intent.created_ns, intent.expires_ns) == (5_000, 5_000 + 1_500_000_000)


@pytest.mark.parametrize(
    ("size", "rules", "reason"),
    [
        ("0.0004", info("X", "0.001"), "size_rounds_to_zero"),
        ("0.002", info("X", "0.001", min_size="0.01"), "below_min_size"),
        ("0.002", info("X", "0.001", min_notional="1"), "below_min_notional"),
    ],
)
def test_orders_the_venue_would_refuse_are_not_built(size: str, rules: object, reason: str) -> None:
    assert build_intent(MA, "X", rules, request(size), 0) == reason  # type: ignore[arg-type]


def test_specs_are_validated_on_write_and_read() -> None:
    assert validate_spec(MA) == MA
    with pytest.raises(SpecError, match="not a valid subject token"):
        validate_spec(StrategySpec(id="x", params=MaCrossoverParams(product_id="BTC.USD")))
    raw = msgspec.msgpack.encode(
        {"id": "x", "params": {"type": "ma_crossover", "product_id": "A", "short_window": 9}}
    )
    assert "short_window" in str(decode_spec("x", raw))
    assert "does not match" in str(decode_spec("other", codec.encode(MA)))
    assert decode_spec("x", b"\xff\x00").startswith("invalid spec")  # type: ignore[union-attr]


def test_settings_keep_the_lease_ttl_below_the_bucket_ttl() -> None:
    with pytest.raises(ValueError, match="lease_ttl_s"):
        StrategySettings(lease_ttl_s=20.0)
    with pytest.raises(ValueError, match="worker_id"):
        StrategySettings(worker_id="a.b")
    assert StrategySettings().resolved_worker_id


@pytest.mark.parametrize("saved_by", ["sdk", "before_the_sdk_runtime"])
def test_restore_keeps_positions_and_sequence_and_restores_the_state_only_for_the_same_params(
    saved_by: str,
) -> None:
    """Whether the snapshot holds the SDK book or (saved before the SDK runtime) an `ma_book`."""
    infos = {"BTC-USD": info("BTC-USD")}
    settings = StrategySettings()
    engine, warm = build_engine(MA, infos, settings, None)
    assert isinstance(engine, SdkEngine)
    assert not warm
    snap = engine.snapshot_into(
        InstanceSnapshot(strategy_id="ma-1", params=MA.params, worker_id="w", saved_ns=0)
    )
    assert snap.sdk is not None
    if saved_by == "sdk":
        book = msgspec.structs.replace(snap.sdk.book, positions={"BTC-USD": D("0.5")}, next_seq=12)
        snap = msgspec.structs.replace(snap, sdk=msgspec.structs.replace(snap.sdk, book=book))
    else:
        core = MaCrossover(MA.params)  # type: ignore[arg-type]
        legacy = MaBook(position=D("0.5"), next_seq=12)
        snap = msgspec.structs.replace(snap, sdk=None, ma=core.snapshot(), ma_book=legacy)
    same, warm = build_engine(MA, infos, settings, snap)
    assert warm
    assert isinstance(same, SdkEngine)
    assert (same.positions, same.runner.book.next_seq) == ((("BTC-USD", D("0.5")),), 12)
    changed = msgspec.structs.replace(
        MA, params=MaCrossoverParams(product_id="BTC-USD", short_window=3, long_window=9)
    )
    other, warm = build_engine(changed, infos, settings, snap)
    assert not warm
    assert isinstance(other, SdkEngine)
    assert (other.positions, other.runner.book.next_seq) == ((("BTC-USD", D("0.5")),), 12)
    fresh, warm = build_engine(MA, infos, settings, snap.retired_copy("w2", 1))
    assert not warm
    assert isinstance(fresh, SdkEngine)
    assert (fresh.positions, fresh.runner.book.next_seq) == ((("BTC-USD", D(0)),), 12)


def test_a_retired_dual_leg_snapshot_only_carries_the_order_sequence() -> None:
    spec = StrategySpec(id="p", params=PairsParams(leg1_id="A", leg2_id="B"))
    infos = {"A": info("A"), "B": info("B")}
    engine, _ = build_engine(spec, infos, StrategySettings(), None)
    assert isinstance(engine, TwoLegEngine)
    engine.machine.st.next_seq = 40
    engine.machine.st.legs[0].pos = D(3)
    snap = engine.snapshot_into(
        InstanceSnapshot(strategy_id="p", params=spec.params, worker_id="w", saved_ns=0)
    )
    again, warm = build_engine(spec, infos, StrategySettings(), snap.retired_copy("w2", 1))
    assert isinstance(again, TwoLegEngine)
    assert not warm
    assert (again.machine.st.next_seq, again.positions) == (40, (("A", D(0)), ("B", D(0))))


def test_costs_come_from_the_venues_fee_tier_once_published_averaged_over_spot_and_future() -> None:
    """Until execution writes KV `fee_rates` the settings' tier applies; then the venue's, with a
    basis round trip (two spot fills and two futures fills) priced as 4 x the mean taker rate."""
    spot, future = info("BTC-USD"), msgspec.structs.replace(info("BIP-20DEC30-CDE"), is_future=True)
    infos = {"BTC-USD": spot, "BIP-20DEC30-CDE": future}
    spec = StrategySpec(id="b", params=BasisParams(spot_id="BTC-USD", future_id="BIP-20DEC30-CDE"))
    settings = StrategySettings(taker_fee_rate=D("0.006"), maker_fee_rate=D("0.004"))
    strategy = strategy_for(spec)
    assert costs_for(strategy, settings, infos, None).taker_bps == D(60)
    fees = FeeRates(
        venue="coinbase",
        pricing_tier="Advanced 1",
        spot_maker=D("0.004"),
        spot_taker=D("0.008"),
        futures_maker=D("0.0002"),
        futures_taker=D("0.0004"),
        fetched_ns=1,
    )
    costs = costs_for(strategy, settings, infos, fees)
    assert (costs.taker_bps, costs.maker_bps) == (D(42), D(21))
    assert costs.round_trip_bps == 2 * 80 + 2 * 4 + costs.slippage_bps  # the instance's own slippage


def test_a_fee_tier_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="spot_taker"):
        FeeRates(
            venue="v",
            pricing_tier="x",
            spot_maker=D(0),
            spot_taker=D(6),
            futures_maker=D(0),
            futures_taker=D(0),
            fetched_ns=1,
        )
