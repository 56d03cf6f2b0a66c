"""Venue readers behind one Protocol, chosen by a small factory from `mode`."""

from __future__ import annotations

from services.reconciliation.config import ReconSettings
from services.reconciliation.venues.base import VenueReader, VenueReadError
from services.reconciliation.venues.live import LiveReader
from services.reconciliation.venues.paper import PaperReader
from shared.bus import Bus
from shared.coinbase.rest import build_client
from shared.config import CoinbaseCredentials

__all__ = ["LiveReader", "PaperReader", "VenueReadError", "VenueReader", "build_reader"]


def build_reader(
    settings: ReconSettings, bus: Bus, credentials: CoinbaseCredentials | None = None
) -> VenueReader:
    """`paper` → the paper venue's account in KV; `live` → REST through the SDK with keys from the environment."""
    if settings.mode == "paper":
        return PaperReader(bus, settings.execution_venue, settings.paper_account_id)
    creds = credentials or CoinbaseCredentials.from_environment()
    if creds is None:
        raise VenueReadError("live mode needs COINBASE_API_KEY and COINBASE_API_SECRET")
    client = build_client(settings.venue, creds, settings.live.request_timeout_s)
    return LiveReader(client, settings.live, order_lookback_s=settings.order_lookback_s)
