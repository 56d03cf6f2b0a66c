"""Resting orders are not stuck: a GTC limit open at the venue and acknowledged on the bus is left
alone by reconciliation, cycle after cycle (no event re-published, no finding, no corrective order),
and its holds do not read as a position difference. Real paper execution and reconciliation."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from services.execution.config import ExecutionSettings, PaperSettings
from services.execution.paper.adapter import PaperAdapter
from services.execution.service import ExecutionService
from services.reconciliation.config import ReconSettings
from services.reconciliation.service import ReconciliationService
from shared import routing, subjects
from shared.bus import Bus
from shared.config import NatsSettings, VenueSettings
from shared.messages import (
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    client_order_id,
)
from shared.runtime import ServiceContext
from shared.testing import eventually

from .helpers import Audit, publish_book

pytestmark = pytest.mark.integration
D = Decimal


async def test_resting_orders_are_neither_stuck_nor_a_position_difference(bus: Bus, nats_url: str) -> None:
    market = f"r{uuid.uuid4().hex[:10]}"
    venue = routing.execution_venue(market, "paper")
    nats = NatsSettings(url=nats_url)
    exec_settings = ExecutionSettings(
        nats=nats,
        venue=VenueSettings(name=market),
        mode="paper",
        paper=PaperSettings(initial_balances={"USD": "100000", "BTC": "1"}),
    )
    adapter = PaperAdapter(venue, exec_settings.paper, bus, market=market)
    execution = ExecutionService(exec_settings, adapter)
    await execution.start(ServiceContext("execution", exec_settings, bus))
    recon_settings = ReconSettings(
        nats=nats, venue=VenueSettings(name=market), mode="paper", interval_s=0.2, fill_grace_s=0.0
    )
    recon = ReconciliationService(recon_settings)
    audit = await Audit(venue).start(bus)
    try:
        await recon.start(ServiceContext("reconciliation", recon_settings, bus))
        await eventually(lambda: recon.reports, what="first cycle (baseline)")
        await publish_book(bus, market, "BTC-USD", D(99), D(100))
        now = time.time_ns()
        await eventually(lambda: adapter.book_updates > 0, what="paper book applied")
        orders = []
        for seq, (side, price) in enumerate(((Side.BUY, "90.00"), (Side.SELL, "110.00")), start=1):
            intent = OrderIntent(
                client_order_id=client_order_id(f"{venue}-maker", seq, 1),
                strategy_id="maker",
                intent_seq=seq,
                leg=1,
                venue=venue,
                product_id="BTC-USD",
                side=side,
                order_type=OrderType.LIMIT,
                size=D("0.5"),
                limit_price=D(price),
                time_in_force=TimeInForce.GTC,
                post_only=True,
                created_ns=now,
            )
            await bus.publish_durable(subjects.intent("maker"), intent, msg_id=intent.client_order_id)
            order = Order.from_intent(intent, now)  # what risk approves
            await bus.publish_durable(subjects.approved(venue), order, msg_id=order.client_order_id)
            orders.append(order)

        def resting() -> bool:
            return all(
                [e.status for e in audit.events if e.client_order_id == o.client_order_id]
                == [OrderStatus.ACCEPTED]
                for o in orders
            )

        await eventually(resting, what="both orders rest")
        cycles = len(recon.reports)
        await eventually(lambda: len(recon.reports) >= cycles + 4, what="four cycles with them resting")
        assert resting()  # nothing re-published or settled by reconciliation
        # Other tests' instances share the status stream: only findings about this account count.
        ours = [f for r in audit.reports for f in r.findings if f.strategy_id in ("maker", "")]
        assert ours == []
        assert not audit.fills
        # no corrective intent: only the two orders' own
        assert [i.client_order_id for i in audit.intents] == [o.client_order_id for o in orders]
    finally:
        await recon.stop()
        await execution.stop()
