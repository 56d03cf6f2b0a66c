"""Bad input through the whole paper stack: NaN prices, a negative size, an unknown product, and a
malformed message on every subject a service consumes. Each is refused with a logged reason and a
metric, and nothing else is disturbed: every service stays ready (no restarts) and trading goes on.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from shared import subjects
from shared.messages import OrderIntent, OrderType, Side, Ticker
from shared.testing import eventually
from tests.e2e.helpers import PAPER_VENUE, PORTFOLIO, VENUE, Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
MA = "e2e-ma"
GARBAGE = b"\xc1 this is not msgpack"
ENV = {"ALGOPIONEER_RISK__REPLAY_TIMEOUT_S": "5"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    # the fastest MA there is (1 s bars, windows 1/2) so "trading goes on" is seen within seconds
    portfolio = [
        {**spec, "params": {**spec["params"], "short_window": 1, "long_window": 2}}
        for spec in PORTFOLIO
        if spec["id"] == MA
    ]
    async with running_stack(Path(tmp_path_factory.mktemp("bad-input")), portfolio, ENV) as running:
        await eventually(lambda: _ma_orders(running), timeout_s=30, interval_s=0.5, what="MA trading")
        yield running


async def _ma_orders(stack: Stack) -> int:
    _, records = await stack.paper()
    return sum(1 for r in records.values() if r.order.strategy_id == MA)


async def _undisturbed(stack: Stack, orders_before: int) -> None:
    """Every service ready, none restarted, and the MA instance still gets orders filled."""
    assert stack.launcher is not None
    await stack.wait_all_ready(20, "after bad input")
    assert {m.entry.name: m.restarts for m in stack.launcher.managed} == {
        m.entry.name: 0 for m in stack.launcher.managed
    }
    await eventually(
        lambda: _more(stack, orders_before), timeout_s=30, interval_s=0.5, what="MA keeps trading"
    )


async def _more(stack: Stack, before: int) -> bool:
    return await _ma_orders(stack) > before


def _intent(product_id: str = "BTC-USD", **changes: object) -> OrderIntent:
    seq = int(time.time_ns() % 1_000_000_000)
    intent = OrderIntent(
        client_order_id=str(uuid.uuid4()),
        strategy_id="e2e-bad",
        intent_seq=seq,
        leg=1,
        venue=VENUE,
        product_id=product_id,
        side=Side.BUY,
        order_type=OrderType.MARKET,
        size=Decimal("0.001"),
        reference_price=Decimal("95000"),
        created_ns=time.time_ns(),
    )
    return msgspec.structs.replace(intent, **changes)


async def _logged(stack: Stack, service: str, event: str, **fields: object) -> bool:
    return any(all(line.get(k) == v for k, v in fields.items()) for line in stack.log_lines(service, event))


async def test_nan_negative_and_unknown_intents_are_refused_with_reasons(stack: Stack) -> None:
    assert stack.bus is not None
    before = await _ma_orders(stack)
    cases = {
        "nan size": (_intent(size=Decimal("NaN")), "INVALID_NUMBER"),
        "nan limit price": (
            _intent(order_type=OrderType.LIMIT, limit_price=Decimal("NaN")),
            "INVALID_NUMBER",
        ),
        "negative size": (_intent(size=Decimal("-0.001")), "INVALID_NUMBER"),
        "unknown product": (_intent("NOPE-USD"), "UNKNOWN_PRODUCT"),
    }
    counted = {
        reason: await stack.metric("risk", "risk_decisions_total", approved="false", reason=reason)
        for _, reason in cases.values()
    }
    for intent, _ in cases.values():
        await stack.bus.publish_durable(
            subjects.intent(intent.strategy_id), intent, msg_id=intent.client_order_id
        )
    for name, (intent, reason) in cases.items():
        line = await eventually(
            lambda i=intent: _rejected(stack, i.client_order_id), timeout_s=15, what=f"{name} refused"
        )
        assert reason in line["reasons"], (name, line)
    for reason in set(counted):
        n = sum(1 for _, r in cases.values() if r == reason)
        assert (
            await stack.metric("risk", "risk_decisions_total", approved="false", reason=reason)
            >= counted[reason] + n
        )
    _, records = await stack.paper()
    assert not {i.client_order_id for i, _ in cases.values()} & set(records)  # nothing reached a venue
    await _undisturbed(stack, before)


async def _rejected(stack: Stack, coid: str) -> dict[str, object] | None:
    return next(
        (line for line in stack.log_lines("risk", "intent_rejected") if line["client_order_id"] == coid),
        None,
    )


async def test_nan_and_negative_ticks_are_refused_by_every_consumer(stack: Stack) -> None:
    assert stack.bus is not None
    before = await _ma_orders(stack)
    now = time.time_ns()
    bad = [
        Ticker(
            venue=VENUE,
            product_id="BTC-USD",
            bid=Decimal("NaN"),
            ask=Decimal("NaN"),
            bid_size=Decimal(1),
            ask_size=Decimal(1),
            last=Decimal("NaN"),
            exchange_time_ns=now,
            receive_time_ns=now,
            sequence=1,
        ),
        Ticker(
            venue=VENUE,
            product_id="BTC-USD",
            bid=Decimal("-5"),
            ask=Decimal("-4"),
            bid_size=Decimal(1),
            ask_size=Decimal(-1),
            last=Decimal("-4"),
            exchange_time_ns=now,
            receive_time_ns=now,
            sequence=2,
        ),
    ]
    for ticker in bad:
        await stack.bus.publish(subjects.ticker(VENUE, "BTC-USD"), ticker, traced=False)
    await stack.bus.nc.flush()
    await _undisturbed(stack, before)
    # The ledger's mark for BTC stayed a real price.
    positions = await stack.positions()
    for (_, product), position in positions.items():
        if product == "BTC-USD" and position.mark is not None:
            assert position.mark.is_finite()
            assert position.mark > 0
    # Each consumer of md.ticker must say it refused them (a log line naming the reason and a metric).
    gaps = _tick_refusal_gaps(stack)
    assert not gaps, "bad ticks dropped without a logged reason and a metric: " + "; ".join(gaps)


def _tick_refusal_gaps(stack: Stack) -> list[str]:
    """Which consumers of `md.ticker` did not log a refusal of the NaN / negative ticks."""
    gaps = []
    for service in ("risk", "strategy", "execution-paper"):
        lines = [
            line
            for line in stack.log_lines(service)
            if line.get("subject", "").startswith("md.ticker") or "tick" in line.get("event", "")
        ]
        refused = [line for line in lines if line.get("level") in ("warning", "error")]
        designed = [line for line in refused if line.get("event") != "bus_handler_error"]
        if not designed:
            crashed = [line for line in refused if line.get("event") == "bus_handler_error"]
            how = f"only a handler exception ({crashed[0].get('error')})" if crashed else "silently"
            gaps.append(f"{service} refuses them {how}")
    return gaps


CORE_SUBJECTS = {
    # subject: services that consume it
    subjects.ticker(VENUE, "BTC-USD"): ("risk", "execution-paper", "strategy"),
    subjects.book(VENUE, "BTC-USD"): ("execution-paper",),
    subjects.trade(VENUE, "BTC-USD"): ("execution-paper",),
    subjects.strategy_status(MA): ("reconciliation",),
}
SERVED = {
    subjects.RISK_CONTROL: "risk",
    subjects.strategy_control(MA): "strategy",
    subjects.candles_rpc(VENUE): "marketdata",
}
DURABLE = {
    subjects.intent("e2e-bad"): ("risk", "reconciliation"),
    subjects.approved(PAPER_VENUE): ("execution-paper",),
    subjects.cancel(PAPER_VENUE): ("execution-paper",),
    subjects.order_event(PAPER_VENUE, MA): ("risk", "strategy", "reconciliation"),
    subjects.fill(PAPER_VENUE, "BTC-USD"): ("risk", "strategy", "reconciliation"),
}


async def test_malformed_messages_on_every_consumed_subject_are_skipped(stack: Stack) -> None:
    assert stack.bus is not None
    before = await _ma_orders(stack)
    consumers: dict[str, set[str]] = {}
    for subject, services in CORE_SUBJECTS.items():
        await stack.bus.nc.publish(subject, GARBAGE)
        for service in services:
            consumers.setdefault(service, set()).add(subject)
    for subject, service in SERVED.items():
        await stack.bus.nc.publish(subject, GARBAGE, reply=stack.bus.nc.new_inbox())
        consumers.setdefault(service, set()).add(subject)
    for subject, services in DURABLE.items():
        await stack.bus.js.publish(subject, GARBAGE)
        for service in services:
            consumers.setdefault(service, set()).add(subject)
    await stack.bus.nc.flush()

    def _logged_all() -> list[str]:
        missing = []
        for service, wanted in consumers.items():
            seen = {
                line.get("subject")
                for line in stack.log_lines(service)
                if line.get("event") in ("bus_decode_error", "bus_poison_message")
            }
            missing += [f"{service}: {s}" for s in sorted(wanted - seen)]
        return missing

    missing: list[str] = []

    def logged() -> bool:
        missing[:] = _logged_all()
        return not missing

    try:
        await eventually(logged, timeout_s=15, interval_s=0.3)
    except AssertionError:
        pytest.fail(f"malformed messages not logged as refused: {missing}")
    for service, wanted in consumers.items():
        for root in {s.split(".", 1)[0] for s in wanted}:
            # the label is the subscription's first two tokens (`fills.>` for risk's follow)
            counted = await stack.metric_prefix(service, "bus_decode_errors_total", "stream", root + ".")
            assert counted >= 1, (service, root)
    await _undisturbed(stack, before)


async def test_malformed_frame_from_the_venue_is_skipped_by_marketdata(stack: Stack) -> None:
    before = await _ma_orders(stack)
    counted = await stack.metric("marketdata", "md_malformed_total")
    await stack.sim_control("ws_malformed")
    await eventually(
        lambda: _above(stack, "marketdata", "md_malformed_total", counted), timeout_s=15, what="counted"
    )
    await _undisturbed(stack, before)


async def _above(stack: Stack, service: str, metric: str, value: float) -> bool:
    return await stack.metric(service, metric) > value


async def test_risk_restarts_after_malformed_messages_in_its_replayed_streams(stack: Stack) -> None:
    """Runs last: the malformed fill and order event published above stay in their streams, and risk
    rebuilds its ledger by replaying them after a restart. It must come back (skipping them)."""
    assert stack.bus is not None
    await stack.bus.js.publish(subjects.fill(PAPER_VENUE, "BTC-USD"), GARBAGE)  # also when run alone
    managed = stack.managed("risk")
    pid = managed.process.pid
    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: managed.process.pid != pid, timeout_s=15, what="risk restarted")
    log_path = stack.data_dir / "logs" / "risk.log"
    stuck_at_fills = re.compile(r"TimeoutError: replay did not catch up within [0-9.]+s: FILLS \d+/\d+")

    async def back_or_stuck() -> str:
        if await stack.ready("risk"):
            return "ready"
        return "stuck" if stuck_at_fills.search(log_path.read_text(errors="replace")) else ""

    # replay timeout is 5 s here: fills must finish, events/decisions may give up after 5 s more
    outcome = await eventually(back_or_stuck, timeout_s=25, interval_s=0.3, what="risk ready again")
    assert outcome == "ready", "risk is stuck replaying FILLS past an undecodable message (crash loop)"
