"""`python -m services.console`: run the web console on the shared runtime."""

from __future__ import annotations

import sys

from services.console.config import ConsoleSettings
from services.console.service import ConsoleService
from shared.runtime import run_service

if __name__ == "__main__":
    sys.exit(run_service("console", ConsoleSettings, ConsoleService))
