"""Field validators of the contract and config Structs: every failure names its field."""

from __future__ import annotations

from decimal import Decimal

from shared.errors import ConfigError


def finite(field: str, value: Decimal) -> Decimal:
    """Refuse NaN and infinities: they make every later comparison silently false."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ConfigError(field, f"must be a finite decimal, got {value!r}")
    return value


def positive(field: str, value: Decimal) -> Decimal:
    """A cap of zero or less would block everything, which is a kill switch in disguise."""
    if finite(field, value) <= 0:
        raise ConfigError(field, f"must be > 0, got {value}")
    return value


def non_negative(field: str, value: Decimal) -> Decimal:
    """Minimums may be zero (no minimum) but never negative."""
    if finite(field, value) < 0:
        raise ConfigError(field, f"must be >= 0, got {value}")
    return value


def positive_int(field: str, value: int) -> int:
    """Counts and durations are whole and strictly positive."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(field, f"must be a positive integer, got {value!r}")
    return value
