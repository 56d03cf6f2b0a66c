"""`python -m services.reconciliation`: run reconciliation (paper or live) on the shared runtime."""

from __future__ import annotations

import sys

from services.reconciliation.config import ReconSettings
from services.reconciliation.service import build_reconciliation_service
from shared.runtime import run_service

if __name__ == "__main__":
    sys.exit(run_service("reconciliation", ReconSettings, build_reconciliation_service))
