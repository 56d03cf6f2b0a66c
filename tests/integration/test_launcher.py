"""`algopioneer up`'s supervisor: start order, restart on crash, stop services before NATS."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from services.launcher import Launcher
from services.stack import ServiceEntry
from shared.testing import eventually, free_port

pytestmark = pytest.mark.integration


async def _ready(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/ready") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def test_launcher_restarts_a_crashed_service_and_stops_nats_last(tmp_path: Path) -> None:
    entry = ServiceEntry("echo", "tests.integration.echo_service", free_port())
    launcher = Launcher(tmp_path, nats_port=-1, entries=[entry])
    running = asyncio.create_task(launcher.run())
    await eventually(lambda: (tmp_path / "stack.json").exists(), timeout_s=20, what="stack started")
    stack = json.loads((tmp_path / "stack.json").read_text())
    assert stack["nats_url"] == launcher.nats.url
    managed = launcher.managed[0]
    assert managed.process is not None
    first_pid = managed.process.pid
    # Services and NATS run in sessions of their own, so a terminal's Ctrl-C reaches only the
    # launcher, which then stops them in order (services first, NATS last).
    assert launcher.nats.process is not None
    assert os.getsid(first_pid) != os.getsid(0)
    assert os.getsid(launcher.nats.process.pid) != os.getsid(0)
    await eventually(lambda: _ready(entry.http_port), timeout_s=20, what="service ready")

    os.kill(first_pid, signal.SIGKILL)
    await eventually(
        lambda: managed.process is not None and managed.process.pid != first_pid, timeout_s=15, what="restart"
    )
    assert managed.restarts == 1
    await eventually(lambda: _ready(entry.http_port), timeout_s=20, what="restarted service ready")

    launcher.stopping.set()
    assert await asyncio.wait_for(running, 30) == 0
    assert managed.process.returncode == 0  # stopped by SIGTERM and drained, not killed
    assert launcher.nats.process is not None
    assert launcher.nats.process.returncode is not None
    log = managed.log_path.read_text()
    assert '"event": "service_stopped"' in log
