"""The tracker on a real JetStream: an undecodable stored message still counts as read, so
reconciliation is not stuck reporting `ledger_behind` forever after one bad message."""

from __future__ import annotations

import uuid
from decimal import Decimal

from services.reconciliation.tracker import LedgerTracker
from shared import codec, subjects
from shared.bus import Bus
from shared.messages import Fill, Liquidity, Side
from shared.testing import eventually


async def test_an_undecodable_fill_counts_as_read_and_the_tracker_catches_up(bus: Bus) -> None:
    venue = f"skip{uuid.uuid4().hex[:8]}"
    subject = subjects.fill(venue, "BTC-USD")
    await bus.js.publish(subject, b"{not json")
    good = Fill(
        trade_id="t1",
        client_order_id="c1",
        strategy_id="s1",
        venue=venue,
        product_id="BTC-USD",
        side=Side.BUY,
        price=Decimal(100),
        size=Decimal("0.25"),
        fee=Decimal("0.1"),
        liquidity=Liquidity.TAKER,
        fill_ns=1,
    )
    await bus.js.publish(subject, codec.encode(good))
    tracker = LedgerTracker(venue)
    await tracker.start(bus)
    try:
        await eventually(lambda: tracker.caught_up(bus), timeout_s=5, what="tracker caught up")
        assert tracker.trade_ids == {"t1"}
    finally:
        await tracker.stop()
