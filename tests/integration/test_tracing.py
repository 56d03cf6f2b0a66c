"""W3C trace context crosses the bus between processes, read back through the real OTLP exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.testing.otlp import OtlpReceiver

pytestmark = pytest.mark.integration
PEER = Path(__file__).with_name("trace_peer.py")


def _spawn(role: str, nats_url: str, endpoint: str) -> subprocess.Popen[str]:
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    env["PYTHONPATH"] = str(PEER.parents[2])
    return subprocess.Popen(
        [sys.executable, str(PEER), role, nats_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_publisher_span_is_parent_of_consumer_span_in_another_process(nats_url: str) -> None:
    with OtlpReceiver() as receiver:
        consumer = _spawn("consume", nats_url, receiver.endpoint)
        assert consumer.stdout is not None
        assert consumer.stdout.readline().strip() == "ready"
        publisher = _spawn("publish", nats_url, receiver.endpoint)
        pub_out, pub_err = publisher.communicate(timeout=30)
        con_rest, con_err = consumer.communicate(timeout=30)
        assert publisher.returncode == 0, pub_err
        assert consumer.returncode == 0, con_err
        spans = receiver.snapshot()

    decide = next(s for s in spans if s.service == "trace-publish" and s.name == "decide")
    process = next(s for s in spans if s.service == "trace-consume" and s.name.startswith("process"))
    assert process.trace_id == decide.trace_id
    assert process.parent_span_id == decide.span_id

    # Every log line is JSON; the consumer's log line inside the handler carries the same trace id.
    lines = [json.loads(line) for line in con_rest.splitlines() if line.startswith("{")]
    received = next(line for line in lines if line["event"] == "signal_received")
    assert received["trace_id"] == decide.trace_id
    assert received["span_id"] == process.span_id
    published = next(json.loads(x) for x in pub_out.splitlines() if '"publishing"' in x)
    assert published["trace_id"] == decide.trace_id
