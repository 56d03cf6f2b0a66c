"""`algopioneer up`'s supervisor: start order, restart on crash, stop services before NATS."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import nats
import nats.errors
import pytest

from services.launcher import LIVE_LIMITS, Launcher, missing_live_limits
from services.stack import LIVE, PAPER, ServiceEntry, services_for
from shared.nats import auth, install
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
    await asyncio.wait_for(launcher.started.wait(), 30)
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


# ---------------------------------------------------------------- live refuses unsafe defaults

ROOT = Path(__file__).resolve().parents[2]
CLI = "from services.cli.main import app; app()"  # the `algopioneer` console script
LIMIT_VARS = {name: f"ALGOPIONEER_RISK__LIMITS__{name.upper()}" for name in LIVE_LIMITS}


def _clean_env() -> dict[str, str]:
    """The test's environment without any algopioneer, NATS or Coinbase setting of the caller's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ALGOPIONEER_", "NATS_", "COINBASE_"))}


def test_missing_live_limits_reads_the_environment_and_the_config_file(tmp_path: Path) -> None:
    env = _clean_env()
    assert missing_live_limits(env) == list(LIVE_LIMITS)
    config = tmp_path / "settings.toml"
    config.write_text('[risk.limits]\nmax_position_notional = "2500"\nmax_gross_exposure = 10000\n')
    env |= {"ALGOPIONEER_CONFIG": str(config), LIMIT_VARS["daily_loss_limit"]: "250"}
    assert missing_live_limits(env) == ["max_strategy_notional"]
    assert missing_live_limits(env | {LIMIT_VARS["max_strategy_notional"]: " "}) == ["max_strategy_notional"]
    assert missing_live_limits(env | {LIMIT_VARS["max_strategy_notional"]: "5000"}) == []


def _up_live(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, "up", "--live", "--data-dir", str(data_dir), "--no-dashboard"],
        cwd=str(data_dir.parent),
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_up_live_refuses_without_explicit_risk_limits_before_starting_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keys = {"COINBASE_API_KEY": "organizations/o/apiKeys/k", "COINBASE_API_SECRET": "not-a-real-key"}
    without_keys = _up_live(data_dir, _clean_env())
    assert without_keys.returncode != 0
    assert "COINBASE_API_KEY" in without_keys.stderr

    refused = _up_live(data_dir, _clean_env() | keys | {LIMIT_VARS["max_gross_exposure"]: "10000"})
    assert refused.returncode != 0
    (line,) = refused.stderr.strip().splitlines()
    assert "explicit risk limits" in line
    for name in LIVE_LIMITS:
        assert (name in line) == (name != "max_gross_exposure"), (name, line)
    assert not data_dir.exists()  # nothing started: no NATS, no logs, no credentials


async def _login(url: str, user: str, password: str) -> str:
    """'ok', or the server's refusal."""
    try:
        client = await nats.connect(
            url, user=user, password=password, allow_reconnect=False, connect_timeout=2
        )
    except nats.errors.Error as exc:
        return str(exc)
    await client.close()
    return "ok"


async def _started(launcher: Launcher, running: asyncio.Task[int]) -> None:
    """Wait for the stack to be up; a launcher that failed on the way raises its error here."""
    started = asyncio.create_task(launcher.started.wait())
    await asyncio.wait({started, running}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        started.cancel()
        running.result()
    assert started.done(), "live stack did not start within 30 s"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_live_stack_runs_on_per_install_nats_credentials_that_persist(tmp_path: Path) -> None:
    """`up --live` never uses a committed password: the server refuses `<user>-local` for every user,
    each service gets only its own user's generated password, and a restart reuses them."""
    echo = ServiceEntry("echo", "tests.integration.echo_service", free_port(), user="admin")
    credentials = tmp_path / "nats" / install.CREDENTIALS_FILE
    seen: list[dict[str, str]] = []
    for _ in range(2):  # the second start is a restart on the same data folder
        launcher = Launcher(tmp_path, profile=LIVE, nats_port=-1, entries=[echo])
        running = asyncio.create_task(launcher.run())
        await _started(launcher, running)
        passwords = json.loads(credentials.read_text())
        seen.append(passwords)
        assert set(passwords) == set(auth.USER_NAMES)
        assert len(set(passwords.values())) == len(passwords)
        assert _mode(credentials) == 0o600
        assert _mode(tmp_path / "nats" / install.SERVER_CONF) == 0o600
        for user in auth.USER_NAMES:
            assert "Authorization Violation" in await _login(
                launcher.nats.url, user, auth.local_password(user)
            )
            assert await _login(launcher.nats.url, user, passwords[user]) == "ok", user
        # the service logged in with its own user's password, and holds no other user's
        await eventually(lambda: _ready(echo.http_port), timeout_s=20, what="echo ready on the live server")
        env = launcher.managed[0].env
        assert env["ALGOPIONEER_NATS__USER"] == "admin"
        assert env["ALGOPIONEER_NATS__PASSWORD"] == passwords["admin"]
        others = {pw for user, pw in passwords.items() if user != "admin"}
        assert not others & set(env.values())
        # the CLI's password is in stack.json, readable by the owner only
        stack = json.loads((tmp_path / "stack.json").read_text())
        assert (stack["profile"], stack["nats_user"], stack["nats_password"]) == (
            "live",
            "cli",
            passwords["cli"],
        )
        assert _mode(tmp_path / "stack.json") == 0o600
        launcher.stopping.set()
        assert await asyncio.wait_for(running, 30) == 0
    assert seen[0] == seen[1]


def test_live_services_get_what_live_asks_of_them(tmp_path: Path) -> None:
    """Risk must have explicit limits; reconciliation reconciles the venue; the paper twins' own."""
    launcher = Launcher(tmp_path, profile=LIVE, nats_port=-1)
    launcher.passwords = {u: f"{u}-generated" for u in auth.USER_NAMES}
    by_name = {e.name: launcher._base_env(e) for e in services_for(LIVE)}
    assert by_name["risk"]["ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS"] == "true"
    assert by_name["reconciliation"]["ALGOPIONEER_RECONCILIATION__MODE"] == "live"
    assert by_name["reconciliation-paper"]["ALGOPIONEER_RECONCILIATION__MODE"] == "paper"
    assert by_name["execution-coinbase"]["ALGOPIONEER_EXECUTION__MODE"] == "live"
    assert by_name["execution-paper"]["ALGOPIONEER_EXECUTION__MODE"] == "paper"
    ports = [e.http_port for e in services_for(LIVE)]
    assert len(ports) == len(set(ports))
    assert "ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS" not in Launcher(tmp_path, nats_port=-1)._base_env(
        next(e for e in services_for(PAPER) if e.name == "risk")
    )
