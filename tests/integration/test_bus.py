"""The typed bus against a real nats-server."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import msgspec
import pytest

from shared import codec, subjects
from shared import messages as m
from shared.bus import Bus, DeliveryInfo
from shared.testing import eventually
from shared.testing.samples import every_message

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("message", every_message(), ids=lambda msg: type(msg).__name__)
async def test_every_message_round_trips_unchanged(bus: Bus, message: msgspec.Struct) -> None:
    received: list[msgspec.Struct] = []

    async def handler(msg: msgspec.Struct) -> None:
        received.append(msg)

    subject = f"test.roundtrip.{type(message).__name__}"
    await bus.subscribe(subject, type(message), handler)
    await bus.publish(subject, message)
    await eventually(lambda: received, what="message delivered")
    assert received[0] == message
    for field in message.__struct_fields__:
        value = getattr(message, field)
        if isinstance(value, Decimal):
            # Exactness, not just equality: same digits and exponent (0.10 stays 0.10).
            assert str(getattr(received[0], field)) == str(value)


async def test_malformed_message_is_counted_and_skipped(bus: Bus) -> None:
    received: list[m.Ticker] = []

    async def handler(msg: m.Ticker) -> None:
        received.append(msg)

    ticker = every_message()[0]
    await bus.subscribe("test.malformed", m.Ticker, handler)
    await bus.nc.publish("test.malformed", b"\xc1 not msgpack")
    await bus.nc.publish("test.malformed", msgspec.msgpack.encode({"venue": "x"}))
    await bus.publish("test.malformed", ticker)
    await eventually(lambda: received, what="valid message after junk")
    assert received == [ticker]


async def test_bounded_subscription_drops_oldest_and_counts(bus: Bus) -> None:
    seen: list[int] = []
    release = asyncio.Event()

    async def slow(msg: m.Signal) -> None:
        await release.wait()
        seen.append(int(msg.value))

    sub = await bus.subscribe("test.bounded", m.Signal, slow, max_pending=3, traced=False)
    for i in range(10):
        await bus.publish(
            "test.bounded", m.Signal(strategy_id="s", action=m.SignalAction.HOLD, value=i, signal_ns=0)
        )
    await bus.nc.flush()
    await eventually(lambda: sub.dropped >= 6, what="drops counted")
    release.set()
    await eventually(lambda: seen and seen[-1] == 9, what="newest delivered")
    assert 9 in seen
    assert len(seen) <= 4


async def _drained(bus: Bus, durable: str) -> bool:
    """The consumer acked all it was given and has nothing pending: no second copy is coming."""
    info = await bus.js.consumer_info(subjects.STREAM_APPROVED, durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_duplicate_msg_id_is_stored_once(bus: Bus) -> None:
    order = next(x for x in every_message() if isinstance(x, m.Order))
    subject = subjects.approved("dedupe-venue")
    first = await bus.publish_durable(subject, order, msg_id=order.client_order_id)
    second = await bus.publish_durable(subject, order, msg_id=order.client_order_id)
    assert not first.duplicate
    assert second.duplicate
    assert second.seq == first.seq
    got: list[tuple[m.Order, DeliveryInfo]] = []

    async def handler(msg: m.Order, info: DeliveryInfo) -> None:
        got.append((msg, info))

    consumer = await bus.consume(
        stream=subjects.STREAM_APPROVED,
        durable="dedupe-test",
        subject=subject,
        message_type=m.Order,
        handler=handler,
    )
    await eventually(lambda: got, what="order consumed")
    await eventually(lambda: _drained(bus, "dedupe-test"), what="nothing left to deliver")
    await consumer.stop()
    assert len(got) == 1
    assert got[0][0] == order
    assert got[0][1].msg_id == order.client_order_id


async def test_failed_handler_is_redelivered_then_acked(bus: Bus) -> None:
    order = next(x for x in every_message() if isinstance(x, m.Order))
    subject = subjects.approved("retry-venue")
    await bus.publish_durable(subject, order, msg_id="retry-1")
    attempts: list[int] = []

    async def flaky(msg: m.Order, info: DeliveryInfo) -> None:
        attempts.append(info.num_delivered)
        if info.num_delivered == 1:
            raise RuntimeError("venue timeout")

    consumer = await bus.consume(
        stream=subjects.STREAM_APPROVED,
        durable="retry-test",
        subject=subject,
        message_type=m.Order,
        handler=flaky,
        retry_delay_s=0.1,
    )
    await eventually(lambda: attempts == [1, 2], what="redelivery after a failure")
    # The ack follows the handler's return: wait for it, or the check below races it.
    await eventually(lambda: _drained(bus, "retry-test"), what="the redelivery acked")
    await consumer.stop()
    info = await bus.js.stream_info(subjects.STREAM_APPROVED, subjects_filter=subject)
    assert info.state.messages == 0 or all(s != subject for s in (info.state.subjects or {}))


async def test_request_reply_is_typed(bus: Bus) -> None:
    async def answer(cmd: m.ControlCommand) -> m.ControlReply:
        return m.ControlReply(ok=cmd.action == "halt", detail=cmd.reason)

    await bus.serve("test.rpc", m.ControlCommand, answer)
    reply = await bus.request(
        "test.rpc",
        m.ControlCommand(action=m.ControlAction.HALT, reason="why", requested_ns=0),
        m.ControlReply,
    )
    assert reply == m.ControlReply(ok=True, detail="why")


async def test_kv_compare_and_set(bus: Bus) -> None:
    kv = await bus.kv(subjects.KV_WORKER_LEASES, m.StrategyStatus)
    status = next(x for x in every_message() if isinstance(x, m.StrategyStatus))
    rev = await kv.create("lease-test", status)
    entry = await kv.get("lease-test")
    assert entry is not None
    assert entry.value == status
    assert entry.revision == rev
    await kv.update("lease-test", status, last=rev)
    with pytest.raises(Exception, match="wrong last sequence"):
        await kv.update("lease-test", status, last=rev)


async def test_kv_get_many_reads_every_key_in_order_with_none_for_missing(bus: Bus) -> None:
    kv = await bus.kv(subjects.KV_WORKER_LEASES, m.StrategyStatus)
    status = next(x for x in every_message() if isinstance(x, m.StrategyStatus))
    keys = [f"many-{i}" for i in range(600)]  # more than one window of requests
    for i, key in enumerate(keys):
        await kv.put(key, msgspec.structs.replace(status, detail=str(i)))
    await kv.delete(keys[7])
    entries = await kv.get_many([*keys, "many-absent"], window=256)
    assert len(entries) == len(keys) + 1
    assert entries[7] is None
    assert entries[-1] is None
    assert [e.value.detail for e in entries[:-1] if e is not None] == [str(i) for i in range(600) if i != 7]


async def test_follow_replays_history_then_continues_live(bus: Bus) -> None:
    fill = next(x for x in every_message() if isinstance(x, m.Fill))
    subject = subjects.fill("follow-venue", "BTC-USD")
    await bus.publish_durable(subject, fill, msg_id="follow-1")
    seen: list[m.Fill] = []

    async def on_fill(msg: m.Fill) -> None:
        seen.append(msg)

    sub = await bus.follow(subject, m.Fill, on_fill)
    await eventually(lambda: len(seen) == 1, what="history replayed")
    await bus.publish_durable(subject, fill, msg_id="follow-2")
    await eventually(lambda: len(seen) == 2, what="live message followed")
    await sub.unsubscribe()


async def test_consume_with_several_filter_subjects(bus: Bus) -> None:
    fill = next(x for x in every_message() if isinstance(x, m.Fill))
    a, b = subjects.fill("multi", "AAA-USD"), subjects.fill("multi", "BBB-USD")
    await bus.publish_durable(a, fill, msg_id="multi-a")
    await bus.publish_durable(b, fill, msg_id="multi-b")
    await bus.publish_durable(subjects.fill("multi", "CCC-USD"), fill, msg_id="multi-c")
    got: list[str] = []

    async def handler(msg: m.Fill, info: DeliveryInfo) -> None:
        got.append(info.subject)

    consumer = await bus.consume(
        stream=subjects.STREAM_FILLS,
        durable="multi-filter",
        subject=a,
        extra_subjects=(b,),
        message_type=m.Fill,
        handler=handler,
    )
    await eventually(lambda: len(got) == 2, what="both filtered subjects")
    await consumer.stop()
    assert sorted(got) == [a, b]


async def test_serve_ignores_messages_without_a_reply_inbox(bus: Bus) -> None:
    calls: list[m.ControlCommand] = []

    async def answer(cmd: m.ControlCommand) -> m.ControlReply:
        calls.append(cmd)
        return m.ControlReply(ok=True)

    await bus.serve("test.rpc.inbox", m.ControlCommand, answer)
    command = m.ControlCommand(action=m.ControlAction.HALT, requested_ns=0)
    await bus.publish("test.rpc.inbox", command)  # no reply subject: not a request
    await bus.nc.publish("test.rpc.inbox", codec.encode(command), reply="deliver.elsewhere")
    reply = await bus.request("test.rpc.inbox", command, m.ControlReply)
    assert reply.ok
    assert len(calls) == 1


async def test_conflated_subscription_keeps_only_the_newest_message_of_each_subject(bus: Bus) -> None:
    """A quote consumer that falls behind finds one message per product waiting, the newest."""
    seen: list[tuple[str, int]] = []
    release = asyncio.Event()

    async def slow(msg: m.Signal) -> None:
        await release.wait()
        seen.append((msg.strategy_id, int(msg.value)))

    sub = await bus.subscribe("test.latest.*", m.Signal, slow, conflate=True, traced=False)
    for i in range(10):
        for product in ("a", "b"):
            signal = m.Signal(strategy_id=product, action=m.SignalAction.HOLD, value=i, signal_ns=0)
            await bus.publish(f"test.latest.{product}", signal)
    await bus.nc.flush()
    # at most the first message is in the handler; behind it only the newest of each subject waits
    await eventually(lambda: sub.dropped >= 17, what="replaced messages counted as dropped")
    release.set()
    await eventually(lambda: seen[-2:] == [("a", 9), ("b", 9)], what="the newest of each subject")
    assert len(seen) == 20 - sub.dropped <= 3
