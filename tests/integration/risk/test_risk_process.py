"""`python -m services.risk` as a real process: it starts with no config file, shows the breaker in
`/ready`, exports the risk metrics and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared.natsserver import NatsServer
from shared.testing import eventually, free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _start(env_extra: dict[str, str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_"))}
    env.update(env_extra, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "services.risk"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


async def test_ready_shows_the_breaker_and_metrics_are_exported(private_nats: NatsServer) -> None:
    port = free_port()
    proc = _start({"NATS_URL": private_nats.url, "ALGOPIONEER_HTTP__PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> dict[str, Any] | None:
                try:
                    async with http.get(base + "/ready") as response:
                        return dict(await response.json()) if response.status == 200 else None
                except aiohttp.ClientError:
                    return None

            body = await eventually(ready, timeout_s=20, what="risk ready")
            assert body["details"]["risk"]["breaker"] == "closed"
            assert body["checks"]["replayed"] is True
            async with http.get(base + "/metrics") as response:
                text = await response.text()
            assert "risk_breaker_state 0.0" in text
            assert "risk_kill_switch 0.0" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_a_live_run_without_explicit_caps_does_not_start() -> None:
    """`require_explicit_limits` (set by the live launcher): the paper-sized defaults are not caps for
    real money. The process exits with the config error code, naming what is missing."""
    proc = _start(
        {
            "ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS": "true",
            "ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT": "200",
            "NATS_URL": "nats://127.0.0.1:1",
        }
    )
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2, stderr
    for name in ("max_position_notional", "max_strategy_notional", "max_gross_exposure"):
        assert name in stderr
    assert "daily_loss_limit" not in stderr
