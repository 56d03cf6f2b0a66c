"""The chaos suite's report: what the guards held, printed at the end of the run (pass or fail)."""

from __future__ import annotations

from typing import Any

import pytest

REPORT: dict[str, Any] = {}
"""Filled by the chaos tests: duplicate orders, fills lost, worst naked-leg time, orders filled
after a halt, orders filled past their deadline."""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT:
        return
    terminalreporter.section("chaos report")
    for key, value in REPORT.items():
        terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="session")
def chaos_report() -> dict[str, Any]:
    return REPORT
