"""The venue core's lookup errors; a rejected order is `shared.errors.OrderRejectedError`."""

from __future__ import annotations

from shared.errors import VenueError


class UnknownOrderError(VenueError, KeyError):
    """No order with this id exists (REST renders it as 404 NOT_FOUND)."""


class UnknownProductError(VenueError, KeyError):
    """No product with this id exists (REST renders it as 404 NOT_FOUND)."""
