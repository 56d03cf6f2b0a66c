"""The small factory that picks the adapter from `mode`: the only place that knows both."""

from __future__ import annotations

from services.execution.adapter import ExecutionAdapter
from services.execution.coinbase.adapter import CoinbaseAdapter
from services.execution.coinbase.http import CoinbaseHttp
from services.execution.config import ExecutionSettings
from services.execution.errors import FatalVenueError
from services.execution.paper.adapter import PaperAdapter
from shared.bus import Bus
from shared.coinbase.rest import build_client
from shared.config import CoinbaseCredentials


def build_adapter(
    settings: ExecutionSettings, bus: Bus, credentials: CoinbaseCredentials | None = None
) -> ExecutionAdapter:
    """`paper` → `PaperAdapter` on the market's paper venue, priced by the market's data;
    `live` → `CoinbaseAdapter` on the market itself, with keys from the environment."""
    venue = settings.served_venue
    if settings.mode == "paper":
        return PaperAdapter(venue, settings.paper, bus, market=settings.venue.name)
    creds = credentials or CoinbaseCredentials.from_environment()
    if creds is None:
        raise FatalVenueError("live mode needs COINBASE_API_KEY and COINBASE_API_SECRET")
    client = build_client(settings.venue, creds, settings.live.request_timeout_s)
    http = CoinbaseHttp(client, settings.live)
    return CoinbaseAdapter(venue, settings.live, http, bus, user_channel=(settings.venue, creds))
