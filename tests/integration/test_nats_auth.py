"""The generated local NATS config (shared/nats/permissions.conf, from shared/nats/auth.py) on a real
nats-server: every service user can do what its service really does (the subjects, streams, consumers
and KV operations of services/<name>/, through `shared.bus.Bus`), and the ways round "only risk
approves, only execution consumes" are refused.

Payloads are a small probe struct: permissions depend on subjects and JetStream API calls, not on the
message types, so the operations are the services' own with a stand-in body. The last test runs the
real services as processes, each as its own user, and sends an order through them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import nats.errors
import nats.js.errors
import pytest
from nats.js import api

from shared import codec, streams, subjects
from shared.bus import Bus, DeliveryInfo, TypedKV
from shared.config import NatsSettings
from shared.messages import (
    ControlCommand,
    ControlReply,
    Fill,
    OrderIntent,
    OrderType,
    ServiceHeartbeat,
    Side,
)
from shared.messages.strategy import MaCrossoverParams, StrategySpec
from shared.nats import auth
from shared.natsserver import NatsServer
from shared.sdk.codestore import get_code, put_code
from shared.testing import eventually, free_port

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "shared" / "nats" / "permissions.conf"
VENUE = "coinbase"
BTC, ETH = "BTC-USD", "ETH-USD"
SID = "s1"
SERVICE_USERS = (
    "marketdata",
    "strategy",
    "risk",
    "execution",
    "reconciliation",
    "exchange-sim",
    "cli",
    "notify",
)
DENIED = (nats.errors.TimeoutError, TimeoutError, nats.errors.NoRespondersError)


class Probe(msgspec.Struct, frozen=True):
    """A stand-in message body."""

    note: str = ""


class Client:
    """A `Bus` logged in as one user, with the server's permission errors collected."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        bus.nc._error_cb = on_error  # the bus only logs them; the test wants to see them

    @property
    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]

    async def settle(self) -> list[str]:
        """Round-trip to the server so async permission errors have arrived; return the violations."""
        await self.bus.nc.flush()
        await asyncio.sleep(0.05)
        return self.violations

    async def kv(self, bucket: str) -> TypedKV[Probe]:
        return await self.bus.kv(bucket, Probe)


class Stack:
    """One secured server; clients by user name."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[Client] = []

    async def connect(self, user: str) -> Client:
        settings = NatsSettings(
            url=self.url, user=user, password=auth.local_password(user), connect_timeout_s=2.0
        )
        client = Client(await Bus.connect(settings, service=user))
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in reversed(self.clients):
            await client.bus.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    nats_server = NatsServer(tmp_path / "nats", config_file=str(CONFIG))
    nats_server.start()
    yield nats_server
    nats_server.stop()


@pytest.fixture
async def stack(server: NatsServer) -> AsyncIterator[Stack]:
    """The secured server, provisioned by a trusted user first (as the stack must start)."""
    s = Stack(server.url)
    risk = await s.connect("risk")
    await streams.provision(risk.bus.js)
    yield s
    await s.close()


@pytest.fixture
async def fresh(server: NatsServer) -> AsyncIterator[Stack]:
    """The secured server with nothing provisioned."""
    s = Stack(server.url)
    yield s
    await s.close()


async def heartbeat(client: Client, service: str) -> None:
    """What shared/runtime.py `_heartbeat` does every few seconds."""
    kv = await client.bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
    now = time.time_ns()
    beat = ServiceHeartbeat(
        service=service, instance="host-1", ready=True, checks={"nats": True}, started_ns=now, updated_ns=now
    )
    await kv.put(f"{service}.host-1", beat)


async def stream_count(client: Client, stream: str) -> int:
    return int((await client.bus.js.stream_info(stream)).state.messages)


# ---------------------------------------------------------------- allowed: what each service does


@pytest.mark.parametrize("user", [*SERVICE_USERS, "admin"])
async def test_every_user_provisions_and_heartbeats_on_a_provisioned_server(stack: Stack, user: str) -> None:
    client = await stack.connect(user)
    await asyncio.wait_for(streams.provision(client.bus.js), 10)  # shared/runtime.py, at every start
    if user not in ("cli", "admin"):
        await heartbeat(client, user)
    assert await client.settle() == []


@pytest.mark.parametrize("user", ["risk", "admin"])
async def test_a_trusted_user_provisions_a_fresh_server(fresh: Stack, user: str) -> None:
    client = await fresh.connect(user)
    await asyncio.wait_for(streams.provision(client.bus.js), 10)
    for stream in auth.KNOWN_STREAMS:
        assert (await client.bus.js.stream_info(stream)).config.name == stream
    assert await client.settle() == []


async def test_each_service_does_its_job_under_its_own_user(stack: Stack) -> None:
    md, strategy, risk, execution, recon, cli = [
        await stack.connect(u)
        for u in ("marketdata", "strategy", "risk", "execution", "reconciliation", "cli")
    ]
    got: dict[str, list[object]] = {}

    def sink(name: str) -> Callable[..., Awaitable[None]]:
        async def handler(message: Probe, *_: DeliveryInfo) -> None:
            got.setdefault(name, []).append(message)

        return handler

    async def reply(message: Probe) -> Probe:
        return Probe(f"re:{message.note}")

    # -- subscriptions and responders, as each service sets them up
    await md.bus.serve(subjects.candles_rpc(VENUE), Probe, reply, queue="marketdata")
    await strategy.bus.subscribe(subjects.ticker(VENUE, BTC), Probe, sink("strategy-tick"), traced=False)
    await strategy.bus.subscribe(subjects.decision(subjects.REST), Probe, sink("strategy-decision"))
    await strategy.bus.serve(subjects.strategy_control(SID), Probe, reply)
    await risk.bus.subscribe(subjects.ticker(VENUE, subjects.ANY), Probe, sink("risk-tick"), traced=False)
    await risk.bus.serve(subjects.RISK_CONTROL, Probe, reply)
    for kind in (subjects.book, subjects.ticker, subjects.trade):  # the paper venue's market data
        await execution.bus.subscribe(kind(VENUE, subjects.ANY), Probe, sink("exec-md"), traced=False)
    # statuses are read from their last-value stream (an ordered consumer), as the services do
    await recon.bus.follow(
        subjects.strategy_status(subjects.ANY), Probe, sink("recon-status"), latest_only=True
    )
    await cli.bus.subscribe(subjects.feed_status(subjects.ANY), Probe, sink("cli-feed"), traced=False)
    await cli.bus.follow(subjects.strategy_status(subjects.ANY), Probe, sink("cli-status"), latest_only=True)
    await cli.bus.subscribe(subjects.RISK_STATE, Probe, sink("cli-risk"), traced=False)
    await cli.bus.subscribe(subjects.RISK_PNL, Probe, sink("cli-pnl"), traced=False)
    await cli.bus.subscribe("orders.event.>", Probe, sink("cli-events"), traced=False)
    await cli.bus.subscribe("fills.>", Probe, sink("cli-fills"), traced=False)

    # -- durable consumers and ordered followers
    await risk.bus.consume(
        stream=subjects.STREAM_INTENTS,
        durable="risk",
        subject=subjects.intent(subjects.REST),
        message_type=Probe,
        handler=sink("risk-intent"),
    )
    for stream in (subjects.STREAM_FILLS, subjects.STREAM_ORDER_EVENTS, subjects.STREAM_DECISIONS):
        await risk.bus.follow(subjects.STREAM_SUBJECTS[stream][0], Probe, sink(f"risk-follow-{stream}"))
    await execution.bus.consume(
        stream=subjects.STREAM_APPROVED,
        durable=f"execution-{VENUE}",
        subject=subjects.approved(VENUE),
        message_type=Probe,
        handler=sink("exec-order"),
    )
    await execution.bus.consume(
        stream=subjects.STREAM_CANCELS,
        durable=f"execution-{VENUE}-cancel",
        subject=subjects.cancel(VENUE),
        message_type=Probe,
        handler=sink("exec-cancel"),
    )
    await strategy.bus.consume(
        stream=subjects.STREAM_ORDER_EVENTS,
        durable=f"strategy-{SID}-events",
        subject=subjects.order_event(subjects.ANY, SID),
        message_type=Probe,
        handler=sink("strategy-event"),
    )
    await strategy.bus.consume(
        stream=subjects.STREAM_FILLS,
        durable=f"strategy-{SID}-fills",
        subject=subjects.fill(VENUE, BTC),
        extra_subjects=(subjects.fill(VENUE, ETH),),
        message_type=Probe,
        handler=sink("strategy-fill"),
    )
    await recon.bus.follow(subjects.intent(subjects.REST), Probe, sink("recon-intent"))
    await recon.bus.follow(subjects.order_event(VENUE, subjects.REST), Probe, sink("recon-event"))
    await recon.bus.follow(subjects.fill(VENUE, subjects.REST), Probe, sink("recon-fill"))

    # -- KV: execution writes the catalogue and its state; strategy its leases, snapshots, specs
    products = await execution.kv(subjects.KV_PRODUCTS)
    await products.put(subjects.product_key(VENUE, BTC), Probe("btc"))
    for bucket in (subjects.KV_EXEC_STATE, subjects.KV_PAPER_ACCOUNT):
        kv = await execution.kv(bucket)
        await kv.put(f"{VENUE}.order.c-1", Probe("state"))
        assert await kv.keys() == [f"{VENUE}.order.c-1"]
        assert await kv.get(f"{VENUE}.order.c-1") is not None
    specs_by_cli = await cli.kv(subjects.KV_STRATEGY_SPECS)
    await specs_by_cli.put(SID, Probe("spec"))
    leases_kv = await strategy.bus.js.key_value(subjects.KV_WORKER_LEASES)
    specs_kv = await strategy.bus.js.key_value(subjects.KV_STRATEGY_SPECS)
    watchers = [await leases_kv.watchall(), await specs_kv.watchall()]  # shared/kvmirror.py
    revision = await leases_kv.create(f"lease.{SID}", b"w1")
    revision = await leases_kv.update(f"lease.{SID}", b"w1", last=revision)
    await leases_kv.put("worker.w1", b"alive")
    await leases_kv.delete(f"lease.{SID}", last=revision)
    entry = await specs_kv.get(SID)
    disabled = msgspec.msgpack.encode(Probe("disabled"))
    await specs_kv.update(SID, disabled, last=entry.revision)  # set_enabled(False) on stop
    snapshots = await strategy.kv(subjects.KV_STRATEGY_SNAPSHOTS)
    snap = await snapshots.create(f"snap.{SID}", Probe("snap"))
    await snapshots.update(f"snap.{SID}", Probe("snap2"), last=snap)
    assert await (await strategy.kv(subjects.KV_PRODUCTS)).get(subjects.product_key(VENUE, BTC)) is not None
    for watcher in watchers:
        await watcher.stop()
    # risk: its state and positions, reads limits and the catalogue
    await (await risk.kv(subjects.KV_RISK_STATE)).put("state", Probe("state"))
    await (await risk.kv(subjects.KV_POSITIONS)).put(f"{SID}.{BTC}", Probe("pos"))
    await (await cli.kv(subjects.KV_RISK_LIMITS)).put("limits", Probe("limits"))  # the operator's override
    assert await (await risk.kv(subjects.KV_RISK_LIMITS)).get("limits") is not None
    assert await (await risk.kv(subjects.KV_PRODUCTS)).keys() == [subjects.product_key(VENUE, BTC)]
    # reconciliation: its state in exec_state; reads specs and the paper account
    await (await recon.kv(subjects.KV_EXEC_STATE)).put(f"recon.{VENUE}", Probe("recon"))
    assert await (await recon.kv(subjects.KV_STRATEGY_SPECS)).get(SID) is not None
    assert await (await recon.kv(subjects.KV_PAPER_ACCOUNT)).keys() == [f"{VENUE}.order.c-1"]
    # every service heartbeats; the CLI reads the heartbeats, specs, positions and risk state
    for client, name in (
        (md, "marketdata"),
        (strategy, "strategy"),
        (risk, "risk"),
        (execution, "execution"),
    ):
        await heartbeat(client, name)
    await heartbeat(recon, "reconciliation")
    assert len(await (await cli.kv(subjects.KV_SERVICES)).keys()) == 5
    assert await (await cli.kv(subjects.KV_POSITIONS)).keys() == [f"{SID}.{BTC}"]
    assert await (await cli.kv(subjects.KV_RISK_STATE)).get("state") is not None
    assert await (await cli.kv(subjects.KV_STRATEGY_SPECS)).keys() == [SID]

    # -- the order path, each hop published by its own service
    await md.bus.publish(subjects.ticker(VENUE, BTC), Probe("tick"), traced=False)
    await md.bus.publish(subjects.book(VENUE, BTC), Probe("book"), traced=False)
    await md.bus.publish(subjects.trade(VENUE, BTC), Probe("trade"), traced=False)
    await md.bus.publish(subjects.feed_status(VENUE), Probe("feed"), traced=False)
    candles = await strategy.bus.request(subjects.candles_rpc(VENUE), Probe("warm-up"), Probe, timeout=2)
    assert candles.note == "re:warm-up"
    await strategy.bus.publish(subjects.signal(SID), Probe("signal"), traced=False)
    await strategy.bus.publish(subjects.strategy_status(SID), Probe("status"), traced=False)
    await strategy.bus.publish_durable(subjects.intent(SID), Probe("intent"), msg_id="c-1")
    await risk.bus.publish_durable(subjects.decision(SID), Probe("decision"), msg_id="c-1")
    await risk.bus.publish_durable(subjects.approved(VENUE), Probe("order"), msg_id="c-1")
    await risk.bus.publish_durable(subjects.cancel(VENUE), Probe("cancel-all"), msg_id="halt-1")
    await risk.bus.publish_durable(subjects.intent(SID), Probe("flatten"), msg_id="c-flat")
    await risk.bus.publish(subjects.RISK_STATE, Probe("risk-state"))
    await risk.bus.publish(subjects.RISK_PNL, Probe("pnl"))
    await execution.bus.publish_durable(subjects.order_event(VENUE, SID), Probe("event"), msg_id="c-1:open:0")
    await execution.bus.publish_durable(subjects.fill(VENUE, BTC), Probe("fill"), msg_id=f"{VENUE}:t1")
    await recon.bus.publish_durable(subjects.fill(VENUE, ETH), Probe("missed fill"), msg_id=f"{VENUE}:t2")
    await recon.bus.publish_durable(
        subjects.order_event(VENUE, SID), Probe("true state"), msg_id="c-1:filled:1"
    )
    await recon.bus.publish_durable(subjects.intent(SID), Probe("corrective"), msg_id="c-recon")
    await recon.bus.publish_durable(subjects.recon_report(VENUE), Probe("report"))
    assert (
        await recon.bus.request(subjects.strategy_control(SID), Probe("resolve"), Probe)
    ).note == "re:resolve"
    assert (await cli.bus.request(subjects.strategy_control(SID), Probe("stop"), Probe)).note == "re:stop"
    assert (await cli.bus.request(subjects.RISK_CONTROL, Probe("halt"), Probe, timeout=2)).note == "re:halt"
    info = await recon.bus.js.stream_info(subjects.STREAM_FILLS, subjects_filter=subjects.fill(VENUE, ">"))
    assert info.state.messages == 2

    expected = {
        "strategy-tick": 1,
        "risk-tick": 1,
        "exec-md": 3,
        "strategy-decision": 1,
        "risk-intent": 3,
        f"risk-follow-{subjects.STREAM_FILLS}": 2,
        f"risk-follow-{subjects.STREAM_ORDER_EVENTS}": 2,
        f"risk-follow-{subjects.STREAM_DECISIONS}": 1,
        "exec-order": 1,
        "exec-cancel": 1,
        "strategy-event": 2,
        "strategy-fill": 2,
        "recon-intent": 3,
        "recon-event": 2,
        "recon-fill": 2,
        "recon-status": 1,
        "cli-feed": 1,
        "cli-status": 1,
        "cli-risk": 1,
        "cli-pnl": 1,
        "cli-events": 2,
        "cli-fills": 2,
    }
    await eventually(
        lambda: {k: len(got.get(k, [])) for k in expected} == expected,
        what=f"every service received its messages ({ {k: len(v) for k, v in got.items()} })",
    )
    for client in stack.clients:
        assert await client.settle() == [], client.bus.service


# ---------------------------------------------------------------- denied: the ways round the rule


@pytest.mark.parametrize("user", [u for u in (*SERVICE_USERS, "admin") if u != "risk"])
async def test_nobody_but_risk_can_approve_an_order(stack: Stack, user: str) -> None:
    forger = await stack.connect(user)
    approved = subjects.approved(VENUE)
    with pytest.raises(DENIED):
        await forger.bus.publish_durable(approved, Probe("forged"), msg_id="f-1", timeout=0.5)
    await forger.bus.publish(approved, Probe("forged core"))
    assert any(f'publish to "{approved}"' in v for v in await forger.settle()), forger.errors
    # nor subscribe to the subject: a literal subscriber is the interest a push consumer needs to
    # deliver stored messages into it with the server's rights
    await forger.bus.nc.subscribe(approved)
    assert any(f'subscription to "{approved}"' in v for v in await forger.settle()), forger.errors
    assert await stream_count(forger, subjects.STREAM_APPROVED) == 0


@pytest.mark.parametrize("user", [u for u in SERVICE_USERS if u != "execution"])
async def test_nobody_but_execution_can_consume_approved_orders(stack: Stack, user: str) -> None:
    risk = await stack.connect("risk")
    await risk.bus.publish_durable(subjects.approved(VENUE), Probe("order"), msg_id="c-1")
    thief = await stack.connect(user)
    js = thief.bus.nc.jetstream(timeout=0.5)
    with pytest.raises((*DENIED, nats.errors.Error)):
        await js.pull_subscribe(
            subjects.approved(VENUE), durable=f"thief-{user}", stream=subjects.STREAM_APPROVED
        )
    with pytest.raises((*DENIED, nats.errors.Error)):
        await js.get_msg(subjects.STREAM_APPROVED, seq=1)
    assert await stream_count(risk, subjects.STREAM_APPROVED) == 1
    assert thief.violations


@pytest.mark.parametrize("user", [u for u in SERVICE_USERS if u != "risk"])
async def test_the_republish_stream_trick_is_refused(stack: Stack, user: str) -> None:
    """A stream that republishes into orders.approved.> would store into APPROVED with the server's
    rights: updating a stream, or creating one by another name, is left to risk and admin."""
    forger = await stack.connect(user)
    js = forger.bus.nc.jetstream(timeout=0.5)
    intents = (await forger.bus.js.stream_info(subjects.STREAM_INTENTS)).config
    intents.republish = api.RePublish(src=subjects.intent(subjects.REST), dest=subjects.approved(VENUE))
    with pytest.raises(DENIED):
        await js.update_stream(intents)
    evil = api.StreamConfig(
        name="EVIL",
        subjects=["evil.>"],
        republish=api.RePublish(src="evil.>", dest=subjects.approved(VENUE)),
    )
    with pytest.raises(DENIED):
        await js.add_stream(evil)
    with pytest.raises(DENIED):
        await js.delete_stream(subjects.STREAM_FILLS)
    assert len(await forger.settle()) == 3
    assert (await forger.bus.js.stream_info(subjects.STREAM_INTENTS)).config.republish is None


async def test_a_push_consumer_cannot_deliver_into_approved(stack: Stack) -> None:
    """nats-server does not check a push consumer's deliver subject against its creator's rights
    (nats-io/nats-server#8274); delivery needs a literal subscriber, and nobody may hold one."""
    strategy, admin = await stack.connect("strategy"), await stack.connect("admin")
    await admin.bus.nc.subscribe(">")  # even a catch-all tap (its orders.approved part is denied)
    config = api.ConsumerConfig(deliver_subject=subjects.approved(VENUE), ack_policy=api.AckPolicy.NONE)
    await strategy.bus.js.add_consumer(subjects.STREAM_FILLS, config)  # FILLS is a stream it consumes
    execution = await stack.connect("execution")
    await execution.bus.publish_durable(subjects.fill(VENUE, BTC), Probe("fill"), msg_id=f"{VENUE}:t1")
    await asyncio.sleep(0.3)
    assert await stream_count(admin, subjects.STREAM_APPROVED) == 0


@pytest.mark.parametrize(
    ("user", "bucket"),
    [
        ("strategy", subjects.KV_RISK_STATE),
        ("strategy", subjects.KV_PRODUCTS),
        ("strategy", subjects.KV_RISK_LIMITS),
        ("marketdata", subjects.KV_STRATEGY_SPECS),
        ("execution", subjects.KV_RISK_LIMITS),
        ("reconciliation", subjects.KV_POSITIONS),
        ("cli", subjects.KV_RISK_STATE),
        ("cli", subjects.KV_POSITIONS),
        ("risk", subjects.KV_STRATEGY_SPECS),  # reads the specs it routes by, never writes them
        ("execution", subjects.KV_RISK_STATE),  # reads the halt epoch, never moves it
        ("reconciliation", subjects.KV_WORKER_LEASES),
        ("reconciliation", subjects.KV_STRATEGY_SNAPSHOTS),
        ("strategy", subjects.KV_STRATEGY_CODE),  # runs the code the CLI validated, never stores any
    ],
)
async def test_only_owners_write_their_buckets(stack: Stack, user: str, bucket: str) -> None:
    client = await stack.connect(user)
    kv = await client.bus.nc.jetstream(timeout=0.5).key_value(bucket)
    with pytest.raises(DENIED):
        await kv.put("forged", b"x")
    assert any(f"$kv.{bucket}.forged" in v.lower() for v in await client.settle()), client.errors


async def test_strategy_code_is_stored_by_the_cli_and_read_by_strategy_workers_only(stack: Stack) -> None:
    """A plug-in strategy's source goes from the CLI to the workers through KV; no other service
    needs it (they read a plug-in spec's products and bounds, never its code)."""
    cli, strategy, risk = (
        await stack.connect("cli"),
        await stack.connect("strategy"),
        await stack.connect("risk"),
    )
    sha = await put_code(cli.bus, "class Momo: ...\n", "momo.py")
    stored = await get_code(strategy.bus, sha)
    assert stored is not None
    assert (stored.source, stored.filename) == ("class Momo: ...\n", "momo.py")
    kv = await risk.bus.nc.jetstream(timeout=0.5).key_value(subjects.KV_STRATEGY_CODE)
    with pytest.raises(DENIED):
        await kv.get(sha)
    assert any(subjects.KV_STRATEGY_CODE in v for v in await risk.settle()), risk.errors
    for client in (cli, strategy):
        assert await client.settle() == [], client.errors


async def test_the_guards_read_what_they_fence_with(stack: Stack) -> None:
    """Risk routes by the strategy's own spec, execution refuses approvals from before the newest halt
    (the epoch in risk's state), reconciliation finds unmanaged naked legs (leases, snapshots) and
    follows risk's answers to its corrective intents: each reads (watches) them under its own user."""
    cli, strategy, risk = (
        await stack.connect("cli"),
        await stack.connect("strategy"),
        await stack.connect("risk"),
    )
    execution, recon = await stack.connect("execution"), await stack.connect("reconciliation")
    await (await cli.kv(subjects.KV_STRATEGY_SPECS)).put(SID, Probe("spec"))
    await (await risk.kv(subjects.KV_RISK_STATE)).put("state", Probe("epoch 2"))
    await (await strategy.kv(subjects.KV_WORKER_LEASES)).put(f"lease.{SID}", Probe("w1"))
    await (await strategy.kv(subjects.KV_STRATEGY_SNAPSHOTS)).put(f"snap.{SID}", Probe("snap"))
    await risk.bus.publish_durable(subjects.decision(SID), Probe("refused"), msg_id="c-recon")

    watchers = []
    for client, bucket, key in (
        (risk, subjects.KV_STRATEGY_SPECS, SID),
        (execution, subjects.KV_RISK_STATE, "state"),
        (recon, subjects.KV_WORKER_LEASES, f"lease.{SID}"),
        (recon, subjects.KV_STRATEGY_SNAPSHOTS, f"snap.{SID}"),
    ):
        assert await (await client.kv(bucket)).get(key) is not None, (client, bucket)
        watchers.append(await (await client.bus.js.key_value(bucket)).watchall())
    decisions: list[object] = []
    await recon.bus.follow(subjects.decision(subjects.REST), Probe, _collect(decisions))
    await eventually(lambda: decisions, timeout_s=5, what="reconciliation follows risk's decisions")
    for watcher in watchers:
        await watcher.stop()
    for client in (risk, execution, recon):
        assert await client.settle() == [], client.errors


@pytest.mark.parametrize(
    ("user", "subject"),
    [
        ("strategy", subjects.RISK_CONTROL),  # only the CLI halts and resumes
        ("marketdata", subjects.intent(SID)),
        ("execution", subjects.intent(SID)),
        ("strategy", subjects.fill(VENUE, BTC)),
        ("strategy", subjects.order_event(VENUE, SID)),
        ("strategy", subjects.decision(SID)),
        ("strategy", subjects.ticker(VENUE, BTC)),
        ("cli", subjects.cancel(VENUE)),
        ("reconciliation", subjects.cancel(VENUE)),
        ("exchange-sim", subjects.ticker(VENUE, BTC)),
    ],
)
async def test_services_cannot_speak_for_each_other(stack: Stack, user: str, subject: str) -> None:
    client = await stack.connect(user)
    await client.bus.publish(subject, Probe("forged"))
    assert any(f'publish to "{subject.lower()}"' in v.lower() for v in await client.settle()), client.errors


async def test_a_push_consumer_cannot_forge_a_risk_control_command(stack: Stack) -> None:
    """nats-server#8274: a push consumer's deliver subject is not checked against its creator's
    publish rights, so a service that writes a stream it may consume can have stored bytes delivered
    to `risk.control`. Subject permissions cannot close that; `Bus.serve` does: it answers only real
    requests (reply to an `_INBOX`), and a delivery's reply is `$JS.ACK…` (or none)."""
    risk, strategy = await stack.connect("risk"), await stack.connect("strategy")
    commands: list[ControlCommand] = []

    async def answer(cmd: ControlCommand) -> ControlReply:
        commands.append(cmd)
        return ControlReply(ok=True)

    await risk.bus.serve(subjects.RISK_CONTROL, ControlCommand, answer)
    await risk.bus.nc.flush()
    config = api.ConsumerConfig(deliver_subject=subjects.RISK_CONTROL, ack_policy=api.AckPolicy.NONE)
    await strategy.bus.js.add_consumer(auth.kv_stream(subjects.KV_STRATEGY_SNAPSHOTS), config)
    forged = ControlCommand(action="resume", reason="forged", requested_ns=0)
    snapshots = await strategy.bus.js.key_value(subjects.KV_STRATEGY_SNAPSHOTS)
    await snapshots.put("x", codec.encode(forged))
    await asyncio.sleep(0.3)
    assert commands == []


# ---------------------------------------------------------------- the real services, as processes

ROOT = Path(__file__).resolve().parents[2]
# Service process → (module, NATS user, its own settings), as services/stack.py and compose run them.
PROCESSES: dict[str, tuple[str, str, dict[str, str]]] = {
    "risk": ("services.risk", "risk", {}),
    "marketdata": (
        "services.marketdata",
        "marketdata",
        {"ALGOPIONEER_MARKETDATA__SOURCE": "synthetic", "ALGOPIONEER_VENUE__WS_URL": "ws://127.0.0.1:9"},
    ),
    "execution-paper": ("services.execution", "execution", {"ALGOPIONEER_EXECUTION__MODE": "paper"}),
    "reconciliation": (
        "services.reconciliation",
        "reconciliation",
        {"ALGOPIONEER_RECONCILIATION__MODE": "paper", "ALGOPIONEER_RECONCILIATION__INTERVAL_S": "0.5"},
    ),
    "strategy": ("services.strategy", "strategy", {"ALGOPIONEER_STRATEGY__WORKER_ID": "w-auth"}),
}


async def test_the_paper_stack_runs_under_its_users(server: NatsServer, tmp_path: Path) -> None:
    """Each service as a real process with ALGOPIONEER_NATS__USER/PASSWORD: all start, provision,
    heartbeat and serve; an intent goes strategy → risk → execution (paper) → fill; no service hits a
    permissions violation."""
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_", "COINBASE_"))
    }
    procs: dict[str, asyncio.subprocess.Process] = {}
    logs: dict[str, Path] = {}

    async def start(name: str) -> None:
        module, user, extra = PROCESSES[name]
        env = base_env | extra
        env.update(
            PYTHONPATH=str(ROOT),
            NATS_URL=server.url,
            ALGOPIONEER_NATS__USER=user,
            ALGOPIONEER_NATS__PASSWORD=auth.local_password(user),
            ALGOPIONEER_HTTP__PORT=str(free_port()),
        )
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("wb") as log:
            procs[name] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT
            )

    stack = Stack(server.url)
    try:
        cli = await stack.connect("cli")
        await start("risk")  # the trusted user provisions the fresh server first

        async def services_bucket() -> TypedKV[ServiceHeartbeat] | None:
            try:
                return await cli.bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
            except nats.js.errors.BucketNotFoundError:
                return None

        beats = await eventually(services_bucket, timeout_s=30, what="risk provisioned the buckets")
        await eventually(lambda: _ready(beats, "risk", procs["risk"]), timeout_s=30, what="risk heartbeat")
        for name in ("marketdata", "execution-paper", "reconciliation", "strategy"):
            await start(name)
        for name, (module, _, _) in PROCESSES.items():
            service = module.removeprefix("services.")
            await eventually(
                lambda s=service, p=procs[name]: _ready(beats, s, p),  # type: ignore[misc]
                timeout_s=30,
                what=f"{name} heartbeat",
            )

        # the operator: a strategy spec (the worker takes it, warms up through marketdata) and a status
        spec = StrategySpec(id="auth-ma", params=MaCrossoverParams(product_id=BTC))
        await (await cli.bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)).put(spec.id, spec)
        statuses: list[object] = []
        await cli.bus.subscribe(subjects.strategy_status(spec.id), Probe, _collect(statuses), traced=False)
        await eventually(lambda: statuses, timeout_s=30, what="the strategy instance's status")
        reply = await cli.bus.request(
            subjects.RISK_CONTROL, ControlCommand(action="status", requested_ns=time.time_ns()), ControlReply
        )
        assert reply.ok

        # an intent of the paper spec, published with the strategy user's rights, through real risk and
        # paper execution: it goes to the spec's order venue (`coinbase-paper`), which fills it
        fills: list[Fill] = []
        await cli.bus.subscribe(subjects.fill(spec.order_venue, BTC), Fill, _collect(fills), traced=False)
        as_strategy = await stack.connect("strategy")
        intent = OrderIntent(
            client_order_id="auth-c-1",
            strategy_id=spec.id,
            intent_seq=1,
            leg=0,
            venue=spec.order_venue,
            product_id=BTC,
            side=Side.BUY,
            order_type=OrderType.MARKET,
            size=Decimal("0.001"),
            created_ns=time.time_ns(),
        )

        async def filled() -> bool:
            if not fills:
                await as_strategy.bus.publish_durable(subjects.intent(spec.id), intent, msg_id="auth-c-1")
                await asyncio.sleep(0.5)
            return bool(fills)

        await eventually(filled, timeout_s=30, what="the intent filled through risk and execution")
        assert fills[0].client_order_id == "auth-c-1"
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await stack.close()
    for name, path in logs.items():
        text = path.read_text(errors="replace")
        assert "permissions violation" not in text.lower(), (name, text[-4000:])
        assert procs[name].returncode == 0, (name, text[-4000:])


async def _ready(beats: TypedKV[ServiceHeartbeat], service: str, proc: asyncio.subprocess.Process) -> bool:
    """The process's heartbeat (key as shared/runtime.py writes it) says ready."""
    await asyncio.sleep(0.2)
    instance = subjects.token(f"{socket.gethostname()}-{proc.pid}".replace(".", "-"))
    entry = await beats.get(f"{service}.{instance}")
    return entry is not None and entry.value.ready


def _collect(into: list[object]) -> Callable[..., Awaitable[None]]:
    async def handler(message: object) -> None:
        into.append(message)

    return handler
