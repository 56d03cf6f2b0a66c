"""The service runtime: config errors, a missing NATS, and the health endpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from shared import subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import ServiceHeartbeat
from shared.natsserver import NatsServer
from shared.testing import eventually, free_port

pytestmark = pytest.mark.integration
SERVICE = Path(__file__).with_name("echo_service.py")


def _start(env_extra: dict[str, str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_"))}
    env.update(env_extra, PYTHONPATH=str(SERVICE.parents[2]))
    return subprocess.Popen(
        [sys.executable, str(SERVICE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("ALGOPIONEER_ECHO__MAX_ITEMS", "many", "max_items"),
        ("ALGOPIONEER_ECHO__MAX_ITEMS", "0", "max_items"),
        ("ALGOPIONEER_HTTP__PORT", "99999", "http.port"),
        ("ALGOPIONEER_ECHO__GREETNG", "typo", "greetng"),
    ],
)
def test_config_error_exits_2_naming_the_field(variable: str, value: str, field: str) -> None:
    proc = _start({variable: value})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"invalid config: {field}:" in err
    assert "Traceback" not in err


def test_config_file_errors_name_the_field(tmp_path: Path) -> None:
    config = tmp_path / "algopioneer.toml"
    config.write_text('[nats]\nurl = "nats://127.0.0.1:1"\n[echo]\nmax_items = "x"\n')
    proc = _start({"ALGOPIONEER_CONFIG": str(config)})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "max_items" in err


def test_missing_nats_is_a_clear_error_not_a_traceback() -> None:
    proc = _start(
        {"NATS_URL": f"nats://127.0.0.1:{free_port()}", "ALGOPIONEER_NATS__CONNECT_TIMEOUT_S": "0.5"}
    )
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert "cannot reach NATS at nats://127.0.0.1:" in err
    assert "Traceback" not in err


async def test_health_ready_metrics_and_ready_turns_false_without_nats(private_nats: NatsServer) -> None:
    port = free_port()
    proc = _start({"NATS_URL": private_nats.url, "ALGOPIONEER_HTTP__PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def status(path: str) -> int:
                try:
                    async with http.get(base + path) as response:
                        return response.status
                except aiohttp.ClientError:
                    return 0

            assert await eventually(lambda: status("/health"), timeout_s=15) == 200
            await eventually(lambda: _is(status("/ready"), 200), timeout_s=15, what="ready")
            async with http.get(base + "/ready") as response:
                body = await response.json()
            assert body["checks"]["nats"] is True
            assert body["details"]["greeting"] == "hello"
            async with http.get(base + "/metrics") as response:
                text = await response.text()
            assert "bus_connected 1.0" in text
            assert "service_ready" in text

            # The service announces itself in the `services` bucket for `algopioneer status`.
            watcher = await Bus.connect(NatsSettings(url=private_nats.url), service="test")
            kv = await watcher.kv(subjects.KV_SERVICES, ServiceHeartbeat)
            keys = await eventually(kv.keys, timeout_s=10, what="heartbeat written")
            entry = await kv.get(keys[0])
            assert entry is not None
            assert entry.value.service == "echo"
            assert entry.value.ready
            assert entry.value.http_port == port
            await watcher.close()

            private_nats.kill()
            await eventually(lambda: _is(status("/ready"), 503), timeout_s=10, what="not ready without NATS")
            assert await status("/health") == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert '"event": "service_stopped"' in out


async def _is(awaitable: object, expected: int) -> bool:
    return await awaitable == expected  # type: ignore[misc]
