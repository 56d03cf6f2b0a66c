"""The execution error tree, classed by what the caller should do about it.

Its base is `shared.errors.VenueError` (so is the venue core's). Retry decisions follow the class,
never the message text:

* `RetryableVenueError` — try the same request again after a pause. `ambiguous` says whether the
  venue may already have acted on it (a timeout or 5xx after a create-order): then the order must be
  retried with the *same* `client_order_id` and verified, never assumed absent.
* `NonRetryableVenueError` — the venue understood and refused; repeating it cannot succeed.
* `FatalVenueError` — nothing will work until an operator acts (bad key, missing scopes).
* `shared.errors.OrderRejectedError` — a definitive rejection of one order, with the venue's reason code.
"""

from __future__ import annotations

from shared.errors import VenueError


class RetryableVenueError(VenueError):
    """Transient: retry after a pause. `ambiguous` is True when the venue may have acted already."""

    ambiguous: bool = True


class VenueTimeoutError(RetryableVenueError):
    """No answer in time (or the connection broke): the request may or may not have been applied."""


class VenueServerError(RetryableVenueError):
    """HTTP 5xx: the venue's outcome is unknown; reconcile by client_order_id."""


class RateLimitedError(RetryableVenueError):
    """HTTP 429: the request was not processed; back off before trying again."""

    ambiguous = False


class MarketDataPendingError(RetryableVenueError):
    """Paper venue: no market data seen yet for the order's product. Nothing was done: retry later."""

    ambiguous = False


class NonRetryableVenueError(VenueError):
    """HTTP 400/404 and similar: the request itself is wrong; do not repeat it."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        self.code = code
        super().__init__(message, status=status)


class FatalVenueError(VenueError):
    """HTTP 401/403 or an unusable key: stop trading and tell an operator."""
