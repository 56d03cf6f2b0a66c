"""`python -m services.risk`: run the risk service on the shared runtime."""

import sys

from services.risk.config import RiskSettings
from services.risk.service import RiskService
from shared.runtime import run_service

if __name__ == "__main__":
    sys.exit(run_service("risk", RiskSettings, RiskService))
