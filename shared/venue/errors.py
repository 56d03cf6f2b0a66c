"""Venue errors: a rejected order carries Coinbase's own failure reasons so callers can echo them."""

from __future__ import annotations

from shared.errors import AlgopioneerError


class VenueError(AlgopioneerError):
    """Base of the venue core's errors."""


class OrderRejectedError(VenueError):
    """The venue refused an order; nothing was created, no funds moved.

    `reason` is a Coinbase `new_order_failure_reason`, `preview_reason` the matching
    `preview_failure_reason`, so a simulator can render the exact HTTP-200 rejection body.
    """

    def __init__(
        self, reason: str, message: str, preview_reason: str = "UNKNOWN_PREVIEW_FAILURE_REASON"
    ) -> None:
        self.reason = reason
        self.message = message
        self.preview_reason = preview_reason
        super().__init__(f"{reason}: {message}")


class UnknownOrderError(VenueError, KeyError):
    """No order with this id exists (REST renders it as 404 NOT_FOUND)."""


class UnknownProductError(VenueError, KeyError):
    """No product with this id exists (REST renders it as 404 NOT_FOUND)."""
