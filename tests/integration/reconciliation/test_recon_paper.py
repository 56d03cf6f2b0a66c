"""Paper mode: the real execution service (paper adapter) keeps the account of the market's paper
venue (`<market>-paper`) in KV `paper_account`; reconciliation, named the market and paper mode,
reads it as the venue. Execution "crashes" after recording a fill but before
publishing it: reconciliation publishes it, and the ledger equals the paper account."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from services.execution.config import ExecutionSettings, PaperSettings
from services.execution.paper.adapter import PaperAdapter
from services.execution.service import ExecutionService
from services.reconciliation.config import ReconSettings
from services.reconciliation.model import Kind
from services.reconciliation.service import ReconciliationService
from shared import routing, subjects
from shared.bus import Bus
from shared.config import NatsSettings, VenueSettings
from shared.messages import (
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    client_order_id,
)
from shared.runtime import ServiceContext
from shared.testing import eventually

from .helpers import Audit, publish_book

pytestmark = pytest.mark.integration
D = Decimal


class CrashingExecution(ExecutionService):
    """Execution that records fills in the paper account but dies before publishing them."""

    async def fill(self, fill: Fill) -> None:
        return None


async def test_paper_fill_lost_by_execution_is_published(bus: Bus, nats_url: str) -> None:
    market = f"p{uuid.uuid4().hex[:10]}"
    venue = routing.execution_venue(market, "paper")
    nats = NatsSettings(url=nats_url)
    exec_settings = ExecutionSettings(
        nats=nats,
        venue=VenueSettings(name=market),
        mode="paper",
        paper=PaperSettings(initial_balances={"USD": "100000", "BTC": "1"}),
    )
    adapter = PaperAdapter(venue, exec_settings.paper, bus, market=market)
    execution = CrashingExecution(exec_settings, adapter)
    await execution.start(ServiceContext("execution", exec_settings, bus))
    recon_settings = ReconSettings(
        nats=nats, venue=VenueSettings(name=market), mode="paper", interval_s=0.3, fill_grace_s=0.0
    )
    recon = ReconciliationService(recon_settings)  # its reader reads the paper venue's account
    assert recon.venue == venue
    audit = await Audit(venue).start(bus)
    try:
        await recon.start(ServiceContext("reconciliation", recon_settings, bus))
        await eventually(lambda: recon.reports, what="first cycle (baseline)")
        await publish_book(bus, market, "BTC-USD", D(99), D(100))
        now = time.time_ns()
        await eventually(lambda: adapter.book_updates > 0, what="paper book applied")
        intent = OrderIntent(
            client_order_id=client_order_id(f"{venue}-s1", 1, 0),
            strategy_id="s1",
            intent_seq=1,
            leg=0,
            venue=venue,
            product_id="BTC-USD",
            side=Side.BUY,
            order_type=OrderType.MARKET,
            size=D("0.5"),
            created_ns=now,
        )
        await bus.publish_durable(subjects.intent("s1"), intent, msg_id=intent.client_order_id)
        order = Order.from_intent(intent, now)  # what risk approves
        await bus.publish_durable(subjects.approved(venue), order, msg_id=order.client_order_id)
        await eventually(
            lambda: any(e.status is OrderStatus.FILLED for e in audit.events), what="paper order filled"
        )

        def booked() -> bool:
            held = audit.ledger.position("s1", venue, "BTC-USD")
            return held is not None and held.quantity == D("0.5")

        await eventually(booked, timeout_s=10, what="lost fill published by reconciliation")
        (fill,) = audit.fills
        assert fill.client_order_id == intent.client_order_id
        assert adapter.engine.account("paper").balance("BTC") - D(1) == D("0.5")
        await eventually(lambda: Kind.MISSING_FILL in audit.kinds(), what="finding reported")
    finally:
        await recon.stop()
        await execution.stop()
