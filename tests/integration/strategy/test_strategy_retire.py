"""Retiring a deleted instance's snapshot: a failure leaves the snapshot as it stands and says so."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from services.strategy.router import TickRouter
from services.strategy.supervisor import Slot
from services.strategy.worker_context import WorkerContext
from shared import subjects
from shared.bus import Bus
from shared.messages import snapshot_key
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams, StrategySpec
from tests.integration.strategy.helpers import fast_settings, uid

pytestmark = pytest.mark.integration


async def test_a_snapshot_that_cannot_be_retired_is_logged_and_left_as_it_stands(
    bus: Bus, nats_url: str
) -> None:
    sid, worker = uid("unretired"), uid("w")
    raw = await bus.js.key_value(subjects.KV_STRATEGY_SNAPSHOTS)
    await raw.put(snapshot_key(sid), b"\xc1 not a snapshot")  # undecodable: reading it fails
    ctx = WorkerContext(
        bus=bus,
        settings=fast_settings(nats_url, worker),
        worker_id=worker,
        router=TickRouter(bus, 16),
        snapshots=await bus.kv(subjects.KV_STRATEGY_SNAPSHOTS, InstanceSnapshot),
    )
    spec = StrategySpec(id=sid, params=MaCrossoverParams(product_id=uid("RT")))
    slot = Slot(ctx, sid, spec, lease_rev=1)

    try:
        with capture_logs() as logs:
            await slot.stop(retire=True)  # returns: the failure is not raised
        entry = await raw.get(snapshot_key(sid))
    finally:
        await raw.purge(snapshot_key(sid))  # other tests read every snapshot of the session's bucket

    failures = [e for e in logs if e["event"] == "snapshot_not_retired"]
    assert len(failures) == 1
    assert failures[0]["strategy_id"] == sid
    assert failures[0]["log_level"] == "warning"
    assert failures[0]["error"]
    assert entry.value == b"\xc1 not a snapshot"
