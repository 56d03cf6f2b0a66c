"""`python -m services.execution`: run the execution service (paper or live) on the shared runtime."""

from __future__ import annotations

import sys

from services.execution.config import ExecutionSettings
from services.execution.service import build_execution_service
from shared.runtime import run_service

if __name__ == "__main__":
    sys.exit(run_service("execution", ExecutionSettings, build_execution_service))
