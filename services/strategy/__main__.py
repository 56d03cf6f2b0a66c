"""`python -m services.strategy`: run one strategy worker on the shared runtime."""

from __future__ import annotations

import sys

from services.strategy.config import StrategySettings
from services.strategy.service import StrategyService
from shared.runtime import run_service

if __name__ == "__main__":
    sys.exit(run_service("strategy", StrategySettings, StrategyService))
