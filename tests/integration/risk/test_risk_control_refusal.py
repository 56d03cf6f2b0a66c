"""A control command risk cannot read is answered with a refusal naming the valid actions: an old or
mistyped client is told why at once instead of waiting for its request to time out."""

from __future__ import annotations

import json

import msgspec
import pytest

from shared import subjects
from shared.messages import ControlReply
from tests.integration.risk.conftest import RiskHarness, StartRisk

pytestmark = pytest.mark.integration


async def test_an_unknown_action_is_refused_naming_the_valid_ones(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    await start_risk()
    reply = await harness.control("explode")
    assert not reply.ok
    assert "explode" in reply.detail
    assert "use halt, resume, status" in reply.detail
    assert json.loads((await harness.control("status")).detail)["kill_switch"] is False


async def test_a_request_that_is_not_a_command_is_refused(
    harness: RiskHarness, start_risk: StartRisk
) -> None:
    await start_risk()
    response = await harness.bus.nc.request(
        subjects.RISK_CONTROL, msgspec.msgpack.encode([1, 2]), timeout=5.0
    )
    reply = msgspec.msgpack.decode(response.data, type=ControlReply)
    assert not reply.ok
    assert "use halt, resume, status" in reply.detail
