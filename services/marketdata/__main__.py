"""`python -m services.marketdata`: run the market-data service on the shared runtime."""

from __future__ import annotations

import sys

from services.marketdata.config import MarketDataSettings
from services.marketdata.service import MarketDataService
from shared.runtime import run_service

if __name__ == "__main__":
    sys.exit(run_service("marketdata", MarketDataSettings, MarketDataService))
