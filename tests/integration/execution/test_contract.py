"""The execution contract, run against both adapters (paper on the bus, live against the simulator).

Books are scripted; fees are Coinbase US Intro (0.50% maker / 0.90% taker) in both venues, so every
expected fill below is computed by hand.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared import subjects
from shared.messages import FeeRates, Order, OrderEvent, OrderStatus, OrderType, Side, TimeInForce
from shared.testing import eventually

from .helpers import Harness, make_order

pytestmark = pytest.mark.integration
TAKER, MAKER = Decimal("0.009"), Decimal("0.005")
ASKS = [("100.00", "0.3"), ("101.00", "1")]
BIDS = [("99.00", "1")]


async def test_market_order_walks_the_book_with_taker_fees(harness: Harness) -> None:
    await harness.start()
    await harness.set_book("BTC-USD", BIDS, ASKS)
    order = make_order(harness.venue, size=Decimal("0.5"))
    await harness.submit(order)
    done = await harness.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    await eventually(lambda: len(harness.recorder.fills_of(order.client_order_id)) == 2)
    fills = harness.recorder.fills_of(order.client_order_id)
    # Hand-computed walk: 0.3 @ 100.00, then 0.2 @ 101.00; taker fee = price · size · 0.9%.
    assert [(f.price, f.size) for f in fills] == [
        (Decimal(100), Decimal("0.3")),
        (Decimal(101), Decimal("0.2")),
    ]
    assert [f.fee for f in fills] == [Decimal("0.27"), Decimal("0.1818")]
    assert [f.fee for f in fills] == [f.price * f.size * TAKER for f in fills]
    assert all(f.liquidity.value == "TAKER" and f.strategy_id == "s1" for f in fills)
    assert len({f.trade_id for f in fills}) == 2
    assert done.filled_size == Decimal("0.5")
    assert done.average_price == Decimal("100.4")
    assert harness.recorder.statuses(order.client_order_id) == [OrderStatus.ACCEPTED, OrderStatus.FILLED]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            {
                "order_type": OrderType.LIMIT,
                "time_in_force": TimeInForce.GTC,
                "size": Decimal(2000),
                "limit_price": Decimal(100),
            },
            "INSUFFICIENT_FUND",
        ),
        ({"size": Decimal("0.000000001")}, "INVALID_SIZE_PRECISION"),
        (
            {
                "order_type": OrderType.LIMIT,
                "time_in_force": TimeInForce.GTC,
                "limit_price": Decimal("99.999"),
            },
            "INVALID_PRICE_PRECISION",
        ),
        (
            {
                "order_type": OrderType.LIMIT,
                "time_in_force": TimeInForce.GTC,
                "limit_price": Decimal(100),
                "post_only": True,
            },
            "INVALID_LIMIT_PRICE_POST_ONLY",
        ),
    ],
)
async def test_reject_carries_the_venue_reason(
    harness: Harness, overrides: dict[str, object], reason: str
) -> None:
    await harness.start()
    await harness.set_book("BTC-USD", BIDS, ASKS)
    order = make_order(harness.venue, **overrides)
    await harness.submit(order)
    event = await harness.recorder.wait_status(order.client_order_id, OrderStatus.REJECTED)
    assert event.reason == reason
    assert harness.recorder.statuses(order.client_order_id) == [OrderStatus.REJECTED]
    assert not harness.recorder.fills_of(order.client_order_id)


async def test_cancel_a_resting_order_and_cancel_all_of_a_strategy(harness: Harness) -> None:
    await harness.start()
    await harness.set_book("BTC-USD", BIDS, ASKS)
    resting = {"order_type": OrderType.LIMIT, "time_in_force": TimeInForce.GTC, "size": Decimal("0.1")}
    one = make_order(harness.venue, limit_price=Decimal(90), **resting)
    two = make_order(harness.venue, limit_price=Decimal(91), strategy_id="s2", **resting)
    three = make_order(harness.venue, limit_price=Decimal(92), strategy_id="s2", **resting)
    for order in (one, two, three):
        await harness.submit(order)
        await harness.recorder.wait_status(order.client_order_id, OrderStatus.ACCEPTED)
    await harness.cancel(one.client_order_id)
    event = await harness.recorder.wait_status(one.client_order_id, OrderStatus.CANCELLED)
    assert event.filled_size == 0
    await harness.cancel(strategy_id="s2")
    for order in (two, three):
        await harness.recorder.wait_status(order.client_order_id, OrderStatus.CANCELLED)


async def test_partial_taker_fill_then_maker_fill_when_the_market_trades_through(harness: Harness) -> None:
    await harness.start()
    await harness.set_book("BTC-USD", [("98.00", "1")], [("100.00", "0.4"), ("102.00", "1")])
    order = make_order(
        harness.venue,
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        size=Decimal(1),
        limit_price=Decimal(100),
    )
    await harness.submit(order)
    partial = await harness.recorder.wait_status(order.client_order_id, OrderStatus.PARTIALLY_FILLED)
    assert partial.filled_size == Decimal("0.4")
    await harness.trade("BTC-USD", Side.SELL, "0.6", "100.00")
    done = await harness.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    assert done.filled_size == Decimal(1)
    fills = harness.recorder.fills_of(order.client_order_id)
    assert [(f.liquidity.value, f.size, f.price, f.fee) for f in fills] == [
        ("TAKER", Decimal("0.4"), Decimal(100), Decimal("0.4") * 100 * TAKER),
        ("MAKER", Decimal("0.6"), Decimal(100), Decimal("0.6") * 100 * MAKER),
    ]
    assert harness.recorder.statuses(order.client_order_id) == [
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]


async def test_redelivered_order_is_not_placed_twice(harness: Harness) -> None:
    service = await harness.start()
    await harness.set_book("BTC-USD", BIDS, ASKS)
    adapter = service.adapter
    real_place, real_resume = adapter.place, adapter.resume
    crashed: list[str] = []
    resumed: list[tuple[bool, bool]] = []

    async def place_then_crash(order: Order) -> OrderStatus:
        status = await real_place(order)
        if not crashed:  # the process dies after placing, before the ack: NATS redelivers
            crashed.append(order.client_order_id)
            raise ConnectionError("crashed before the ack")
        return status

    async def resume(order: Order, *, redelivered: bool) -> bool:
        found = await real_resume(order, redelivered=redelivered)
        resumed.append((redelivered, found))
        return found

    adapter.place = place_then_crash  # type: ignore[method-assign]
    adapter.resume = resume  # type: ignore[method-assign]
    order = make_order(harness.venue)
    await harness.submit(order)
    await eventually(lambda: (True, True) in resumed, what="redelivery found the order at the venue")
    await eventually(lambda: pending_zero(harness, f"execution-{harness.venue}"), what="acked")
    assert crashed == [order.client_order_id]
    assert harness.venue_orders(order.client_order_id) == 1
    assert harness.submissions() == 1
    statuses = harness.recorder.statuses(order.client_order_id)
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.FILLED]  # re-reports are de-duplicated
    fills = harness.recorder.fills_of(order.client_order_id)
    assert sum(f.size for f in fills) == Decimal("0.5")
    assert len({f.trade_id for f in fills}) == len(fills)


async def test_outcome_lost_before_recording_is_reported_after_redelivery(harness: Harness) -> None:
    service = await harness.start(**harness.quiet())
    await harness.set_book("BTC-USD", BIDS, ASKS)
    real = service.order_event
    failed: list[str] = []

    async def lose_first_fill_event(event: OrderEvent) -> None:
        if event.status is OrderStatus.FILLED and not failed:
            failed.append(event.client_order_id)
            raise ConnectionError("publish lost: placed, outcome not recorded")
        await real(event)

    service.order_event = lose_first_fill_event  # type: ignore[method-assign]
    order = make_order(harness.venue)
    await harness.submit(order)
    await harness.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    assert failed == [order.client_order_id]
    assert harness.venue_orders(order.client_order_id) == 1
    assert harness.submissions() == 1
    assert OrderStatus.REJECTED not in harness.recorder.statuses(order.client_order_id)


async def test_order_is_acked_only_after_its_outcome_is_recorded(harness: Harness) -> None:
    await harness.start(**(await harness.slow(400)))
    await harness.set_book("BTC-USD", BIDS, ASKS)
    order = make_order(harness.venue)
    await harness.submit(order)
    durable = f"execution-{harness.venue}"

    async def pending() -> int:
        info = await harness.bus.js.consumer_info(subjects.STREAM_APPROVED, durable)
        return int(info.num_ack_pending)

    await eventually(pending, what="order delivered and not yet acked")
    assert harness.recorder.last(order.client_order_id) is None
    await harness.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    await eventually(lambda: pending_zero(harness, durable), what="acked after the outcome")


async def pending_zero(harness: Harness, durable: str) -> bool:
    info = await harness.bus.js.consumer_info(subjects.STREAM_APPROVED, durable)
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def test_futures_are_traded_in_contracts_with_fees_on_contract_notional(harness: Harness) -> None:
    await harness.start()
    perp = "BIP-20DEC30-CDE"  # nano BTC: 0.01 BTC per contract, whole contracts, $5 price grid
    await harness.set_book(perp, [("59995", "10")], [("60000", "3"), ("60005", "10")])
    order = make_order(harness.venue, product_id=perp, size=Decimal(5))
    await harness.submit(order)
    done = await harness.recorder.wait_status(order.client_order_id, OrderStatus.FILLED)
    assert done.filled_size == Decimal(5)
    await eventually(lambda: len(harness.recorder.fills_of(order.client_order_id)) == 2)
    fills = harness.recorder.fills_of(order.client_order_id)
    assert [(f.size, f.price) for f in fills] == [(Decimal(3), Decimal(60000)), (Decimal(2), Decimal(60005))]
    # CFM taker 0.05% of contracts · 0.01 BTC · price: 3·0.01·60000·0.0005 = 0.9, 2·0.01·60005·0.0005 = 0.60005
    assert [f.fee for f in fills] == [Decimal("0.9"), Decimal("0.60005")]
    off_grid = make_order(harness.venue, product_id=perp, size=Decimal("1.5"))
    await harness.submit(off_grid)
    rejected = await harness.recorder.wait_status(off_grid.client_order_id, OrderStatus.REJECTED)
    assert rejected.reason == "INVALID_SIZE_PRECISION"


async def test_the_accounts_fee_tier_is_published_for_strategies(harness: Harness) -> None:
    """Spot and futures tiers from the venue (live: `GET /transaction_summary`) land in KV
    `fee_rates`, so strategies price trades with what the account actually pays."""
    await harness.start()
    kv = await harness.bus.kv(subjects.KV_FEE_RATES, FeeRates)
    stored = await kv.get(harness.venue)
    assert stored is not None
    rates = stored.value
    assert (rates.venue, rates.spot_maker, rates.spot_taker) == (harness.venue, MAKER, TAKER)
    assert (rates.futures_maker, rates.futures_taker) == (Decimal("0.0002"), Decimal("0.0005"))
    assert rates.pricing_tier
