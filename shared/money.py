"""Decimal money: strict parsing and the product grid.

Prices and sizes are `Decimal` everywhere. They are rounded to the product's increments *before*
an order is sent; a value that is off the grid when it reaches a venue is an error, never silently
rounded there.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Any

import msgspec

from shared.errors import MoneyError

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    """Parse a venue or config value into a finite Decimal.

    Floats are refused on purpose: `Decimal(0.1)` is not 0.1, and a float reaching the money path
    is a bug upstream. NaN and infinities are refused because they poison every comparison.
    """
    if isinstance(value, bool | float):
        raise MoneyError(f"{field}: refusing {type(value).__name__} {value!r}; pass a str or Decimal")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{field}: not a number: {value!r}") from exc
    if not result.is_finite():
        raise MoneyError(f"{field}: not finite: {value!r}")
    return result


def is_on_grid(value: Decimal, increment: Decimal) -> bool:
    """True when `value` is a whole multiple of `increment` (an increment of 0 means any value)."""
    if increment == ZERO:
        return True
    return (value % increment) == ZERO


def round_to_increment(value: Decimal, increment: Decimal, *, mode: str = "down") -> Decimal:
    """Round `value` onto the grid of `increment`.

    `down` (towards zero) is the default for sizes: never send more than intended. Prices use
    `down` for buys and `up` for sells when a limit must stay on the passive side, or `nearest`.
    """
    if increment <= ZERO:
        raise MoneyError(f"increment must be positive, got {increment}")
    rounding = {"down": ROUND_DOWN, "up": ROUND_UP, "nearest": ROUND_HALF_EVEN}.get(mode)
    if rounding is None:
        raise MoneyError(f"unknown rounding mode {mode!r}")
    units = (value / increment).quantize(ONE, rounding=rounding)
    return units * increment


def require_on_grid(value: Decimal, increment: Decimal, *, field: str) -> Decimal:
    """Return `value` unchanged, or raise naming the field when it is off the grid."""
    if not is_on_grid(value, increment):
        raise MoneyError(f"{field}: {value} is not a multiple of {increment}")
    return value


def bps(part: Decimal, whole: Decimal) -> Decimal:
    """`part / whole` in basis points; 0 when `whole` is 0 (no division blow-up on empty books)."""
    return ZERO if whole == ZERO else part / whole * BPS


def plain(value: Decimal) -> str:
    """An exact decimal string without exponent notation (`0.00000001`, never `1E-8`): JSON keeps
    every digit and a person or a spreadsheet reads it as written."""
    text = format(value, "f")
    return "0" if text in ("-0", "0") else text


def display(value: Decimal, increment: Decimal) -> str:
    """`value` for people: the nearest multiple of `increment` (ties away from zero), written with
    the increment's decimals, never an exponent or a minus zero. `-169.3241910719745` at 0.01 is
    `-169.32`, `0E-8` at 0.00000001 is `0.00000000`. JSON keeps every digit instead (`plain`)."""
    if increment <= ZERO:
        raise MoneyError(f"increment must be positive, got {increment}")
    exponent = increment.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    rounded = (value / increment).quantize(ONE, rounding=ROUND_HALF_UP) * increment
    text = format(rounded.quantize(ONE.scaleb(-places)), "f")
    return text[1:] if text.startswith("-") and rounded == ZERO else text


def exact(value: Any) -> Any:
    """A message, or plain data holding Decimals, as JSON-ready builtins with every Decimal an exact
    plain string (`0E-8` → `0.00000000`): what every JSON output of money uses."""
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value, builtin_types=(Decimal,))
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [exact(v) for v in value]
    return value
