"""`Bus.serve(..., refuse=...)`: a request that does not decode gets the refusal as its reply."""

from __future__ import annotations

import msgspec
import pytest

from shared import codec
from shared import messages as m
from shared.bus import Bus

pytestmark = pytest.mark.integration


async def test_a_request_that_does_not_decode_is_answered_with_the_refusal(bus: Bus) -> None:
    served: list[m.ControlCommand] = []

    async def answer(cmd: m.ControlCommand) -> m.ControlReply:
        served.append(cmd)
        return m.ControlReply(ok=True, detail=str(cmd.action))

    def refuse(error: str) -> m.ControlReply:
        return m.ControlReply(ok=False, detail=error)

    await bus.serve("test.rpc.refuse", m.ControlCommand, answer, refuse=refuse)
    junk = msgspec.msgpack.encode({"action": "explode", "requested_ns": 0})
    response = await bus.nc.request("test.rpc.refuse", junk, timeout=5.0)
    refused = codec.decode(response.data, m.ControlReply)
    assert not refused.ok
    assert "explode" in refused.detail
    assert served == []

    command = m.ControlCommand(action=m.ControlAction.STATUS, requested_ns=0)
    reply = await bus.request("test.rpc.refuse", command, m.ControlReply, timeout=5.0)
    assert reply == m.ControlReply(ok=True, detail="status")
    assert served == [command]
