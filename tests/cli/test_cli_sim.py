"""`algopioneer sim` honours the simulator's start contract."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_sim_command_writes_the_start_contract(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "algopioneer"
    proc = subprocess.Popen(
        [str(cli), "sim", "--state-dir", str(tmp_path), "--seed", "3"], stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "endpoints.json").exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "endpoints.json not written"
            time.sleep(0.1)
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        assert set(endpoints) >= {"rest", "ws", "ws_user", "control"}
        key = json.loads((tmp_path / "cdp_api_key.json").read_text())
        assert key["privateKey"].startswith("-----BEGIN EC PRIVATE KEY-----")
        assert (tmp_path / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0
