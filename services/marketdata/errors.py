"""The market-data error tree: one base, classed by what the caller should do."""

from __future__ import annotations

from shared.errors import AlgopioneerError


class MarketDataError(AlgopioneerError):
    """Base of every error the market-data service raises on purpose."""


class MalformedMessageError(MarketDataError, ValueError):
    """A venue payload that does not decode or holds a non-finite/negative number: count and skip."""


class CandleRequestError(MarketDataError, ValueError):
    """A candle request that can never succeed as asked (bad range, granularity): not retried."""


class VenueUnavailableError(MarketDataError):
    """The venue's REST API timed out, rate-limited or failed with 5xx: worth retrying."""


class VenueRejectedError(MarketDataError):
    """The venue refused the REST call (4xx other than 429): retrying the same call will not help."""
