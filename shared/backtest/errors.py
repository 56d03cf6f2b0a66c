"""Errors the backtester raises on purpose; the CLI turns each into a one-line message."""

from __future__ import annotations

from shared.errors import AlgopioneerError


class BacktestError(AlgopioneerError, ValueError):
    """Base of the backtester's errors: the message is complete and fit for a user."""


class DataError(BacktestError):
    """The bar data is unusable (missing column, unsorted or duplicate times, bad prices)."""
