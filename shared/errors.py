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


class RetryLaterError(AlgopioneerError):
    """A work-queue handler cannot decide *yet* (e.g. prices not fresh after a restart): the message
    goes back to the queue for a later delivery instead of being answered or dropped."""

    def __init__(self, reason: str, delay_s: float = 0.5) -> None:
        self.reason = reason
        self.delay_s = delay_s
        super().__init__(reason)
