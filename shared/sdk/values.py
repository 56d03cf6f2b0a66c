"""From plain values to a loaded strategy class's params and instance, refused in one line.

Values come from a spec (JSON), a portfolio file, or a command line (`--param NAME=VALUE`, read
with `strict=False`); `values_of` is the way back, so a spec stores what rebuilds the same params.
Every refusal is a `StrategyLoadError` naming the field or the method that failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from shared.config import field_of
from shared.messages.strategy import Params
from shared.sdk.api import Data, Strategy, TwoLegStrategy
from shared.sdk.loader import StrategyLoadError, one_line

_MISSING = re.compile(r"^Object missing required field `([^`]+)`$")
_PRODUCT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def make_params(cls: type[Strategy[Any]], values: Mapping[str, Any], *, strict: bool = True) -> Params:
    """The class's params from plain values; `strict=False` also takes strings for numbers and
    booleans (command-line `--param k=v`). Refused with the field named: `invalid params: f: ...`."""
    try:
        return msgspec.convert(dict(values), cls.params_type, strict=strict)
    except msgspec.ValidationError as exc:
        raise params_error(exc, cls.params_type.__struct_fields__) from None


def params_error(exc: msgspec.ValidationError, fields: Iterable[str]) -> StrategyLoadError:
    """`invalid params: FIELD: problem`, the field named even when msgspec names it only in the text."""
    field, problem = field_of(exc)
    missing = _MISSING.match(problem)
    if missing:
        field, problem = missing.group(1) if field == "(root)" else f"{field}.{missing.group(1)}", "required"
    elif problem == "unknown setting":
        problem = f"no such field (fields: {', '.join(fields) or 'none'})"
    return StrategyLoadError(f"invalid params: {field}: {problem}")


_SEQUENCES = (
    msgspec.inspect.ListType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
)


def parse_params(cls: type[Strategy[Any]], assignments: Iterable[str]) -> Params:
    """The class's params from command-line `NAME=VALUE` strings (see `text_values`)."""
    return make_params(cls, text_values(cls, parse_assignments(assignments)), strict=False)


def text_values(cls: type[Strategy[Any]], values: Mapping[str, str]) -> dict[str, Any]:
    """Values typed on a command line, ready for `make_params(..., strict=False)` (which reads
    numbers, Decimals and booleans from text): a list or tuple field from comma-separated items
    (`symbols=A,B`)."""
    out: dict[str, Any] = dict(values)
    info = msgspec.inspect.type_info(cls.params_type)
    for field in info.fields if isinstance(info, msgspec.inspect.StructType) else ():
        text = out.get(field.name)
        if isinstance(text, str) and isinstance(field.type, _SEQUENCES):
            out[field.name] = [item.strip() for item in text.split(",") if item.strip()]
    return out


def instantiate(cls: type[Strategy[Any]], values: Mapping[str, Any], *, strict: bool = True) -> Strategy[Any]:
    """An instance of the class with validated params, whose `products()` and `data()` work."""
    params = make_params(cls, values, strict=strict)
    name = cls.__name__
    try:
        strategy = cls(params)
    except Exception as exc:
        raise StrategyLoadError(f"{name}(params) failed: {one_line(exc)}") from None
    products = declared_products(strategy)
    try:
        data = strategy.data()
    except Exception as exc:
        raise StrategyLoadError(f"{name}.data() failed: {one_line(exc)}") from None
    if not isinstance(data, Data):
        raise StrategyLoadError(f"{name}.data() must return a Data, got {type(data).__name__}")
    if isinstance(strategy, TwoLegStrategy) and len(products) != 2:
        raise StrategyLoadError(f"{name}.legs() must return two products, got {len(products)}")
    return strategy


def declared_products(strategy: Strategy[Any]) -> tuple[str, ...]:
    """`strategy.products()`, checked: a non-empty tuple of distinct product ids."""
    name = type(strategy).__name__
    try:
        products = strategy.products()
    except Exception as exc:
        raise StrategyLoadError(f"{name}.products() failed: {one_line(exc)}") from None
    if isinstance(products, str) or not isinstance(products, tuple | list) or not products:
        raise StrategyLoadError(f"{name}.products() must return a non-empty tuple of product ids")
    bad = [p for p in products if not (isinstance(p, str) and _PRODUCT_ID.match(p))]
    if bad:
        raise StrategyLoadError(f"{name}.products() returned {bad[0]!r}, not a product id such as 'BTC-USD'")
    if len(set(products)) != len(products):
        raise StrategyLoadError(f"{name}.products() lists a product twice: {tuple(products)}")
    return tuple(products)


def values_of(params: Params) -> dict[str, Any]:
    """Params as plain JSON values (Decimals as strings): what a spec stores, and what
    `make_params(cls, values, strict=False)` turns back into the same params."""
    values: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(params))  # lists, not tuples
    return values


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """`["a=1", "b=x"]` (repeated `--param` options) as a mapping; a malformed or repeated one is
    refused in one line."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not (key.isascii() and key.isidentifier()):
            raise StrategyLoadError(f"--param {pair!r}: want NAME=VALUE")
        if key in values:
            raise StrategyLoadError(f"--param {key} given twice")
        values[key] = value.strip()
    return values
