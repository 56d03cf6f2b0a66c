"""A shallow error tree: one base class, classed by what the caller should do about it."""

from __future__ import annotations


class AlgopioneerError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(AlgopioneerError):
    """A setting is missing or wrong; the message names the field. Fatal at start."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid config: {field}: {problem}")


class BusUnavailableError(AlgopioneerError):
    """NATS could not be reached; the message says where we looked."""


class MoneyError(AlgopioneerError, ValueError):
    """A price or size that is not a finite Decimal, or not on the product's grid."""


class InvalidSubjectTokenError(AlgopioneerError, ValueError):
    """A subject token (venue, product, strategy id) contains characters NATS treats specially."""
