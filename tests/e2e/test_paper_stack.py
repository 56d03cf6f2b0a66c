"""The whole paper stack as processes trades a scripted portfolio end to end.

Every strategy type (MA crossover, basis, pairs) opens and closes at least one position; then the
risk ledger equals the paper venue's account to the last decimal, and one trace id spans
strategy → risk → execution → fill for every order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from shared.testing import eventually
from tests.e2e.helpers import Stack, halt, round_trips, running_stack, settled_and_equal, trace_gaps

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
STRATEGIES = {"e2e-ma", "e2e-basis", "e2e-pairs"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(Path(tmp_path_factory.mktemp("paper-stack"))) as running:
        yield running


async def test_every_strategy_round_trips_and_the_ledger_equals_the_paper_account(stack: Stack) -> None:
    sim_before = await stack.sim_state()

    async def all_round_tripped() -> bool:
        _, records = await stack.paper()
        done = round_trips(records)
        return all(done.get(sid) for sid in STRATEGIES)

    await eventually(all_round_tripped, timeout_s=60, interval_s=0.5, what="each instance opened and closed")
    await halt(stack, "e2e scenario done")
    records = await settled_and_equal(stack)

    assert {r.order.strategy_id for r in records.values()} == STRATEGIES
    coids = [r.order.client_order_id for r in records.values()]
    assert len(coids) == len(set(coids))
    # Paper fills never touch the simulator's matching engine: its account is as it was.
    sim_after = await stack.sim_state()
    assert sim_after["balances"] == sim_before["balances"]


async def test_one_trace_spans_strategy_risk_execution_and_fill_for_each_order(stack: Stack) -> None:
    _, records = await stack.paper()
    assert records
    gaps: list[str] = []

    def traced() -> bool:
        gaps[:] = trace_gaps(stack, records)
        return not gaps

    try:
        await eventually(traced, timeout_s=15, interval_s=0.3)
    except AssertionError:
        pytest.fail(f"orders without a complete trace: {gaps}")
