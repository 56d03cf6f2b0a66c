"""The tracker on a real JetStream: an undecodable stored message still counts as read, so
reconciliation is not stuck reporting `ledger_behind` forever after one bad message."""

from __future__ import annotations

import uuid

import msgspec

from services.reconciliation.tracker import LedgerTracker
from shared import codec, subjects
from shared.bus import Bus
from shared.messages import Fill
from shared.testing import eventually
from shared.testing.samples import every_message


async def test_an_undecodable_fill_counts_as_read_and_the_tracker_catches_up(bus: Bus) -> None:
    venue = f"skip{uuid.uuid4().hex[:8]}"
    subject = subjects.fill(venue, "BTC-USD")
    await bus.js.publish(subject, b"{not json")
    sample = next(m for m in every_message() if isinstance(m, Fill))
    good = msgspec.structs.replace(sample, venue=venue, trade_id="t1")
    await bus.js.publish(subject, codec.encode(good))
    tracker = LedgerTracker(venue)
    await tracker.start(bus)
    try:
        await eventually(lambda: tracker.caught_up(bus), timeout_s=5, what="tracker caught up")
        assert tracker.trade_ids == {"t1"}
    finally:
        await tracker.stop()
