"""`python -m services.reconciliation` as a real process: it reports every cycle, stops cleanly on
SIGTERM, and refuses live mode without keys in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared import routing, subjects
from shared.bus import Bus
from shared.messages import ReconReport
from shared.testing import eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _start(env_extra: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_", "COINBASE_"))
    }
    env.update(env_extra, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "services.reconciliation"],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


async def test_process_reports_each_cycle_and_stops_cleanly(bus: Bus, nats_url: str) -> None:
    venue = f"q{uuid.uuid4().hex[:10]}"
    paper = routing.execution_venue(venue, "paper")  # the market's paper venue is reconciled
    reports: list[ReconReport] = []

    async def on_report(report: ReconReport) -> None:
        reports.append(report)

    await bus.follow(subjects.recon_report(paper), ReconReport, on_report)
    proc = _start(
        {
            "NATS_URL": nats_url,
            "ALGOPIONEER_VENUE__NAME": venue,
            "ALGOPIONEER_RECONCILIATION__MODE": "paper",
            "ALGOPIONEER_RECONCILIATION__INTERVAL_S": "0.2",
        }
    )
    try:
        await eventually(lambda: len(reports) >= 2, timeout_s=20, what="two cycle reports")
        assert reports[0].venue == paper
        assert reports[1].cycle == reports[0].cycle + 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err


def test_live_mode_without_keys_is_a_config_error(nats_url: str, tmp_path: Path) -> None:
    # Run from an empty directory: no `.env` there to supply keys.
    proc = _start({"NATS_URL": nats_url, "ALGOPIONEER_RECONCILIATION__MODE": "live"}, cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "COINBASE_API_KEY" in err
    assert "Traceback" not in err
