"""From a strategy reference and its values to the params a spec stores (pure: the caller stores).

One path for `algopioneer start`, portfolio files and the launcher's demo portfolio (and `build`,
the way back from a stored plug-in spec to a running strategy, for the workers):
- a built-in's name (`ma_crossover`, `basis`, `pairs`) gives its tagged params, as `trade`,
  `basistrade` and `pairs` write them;
- anything else is loaded (`shared.sdk.loader`), its params validated and its products asked
  for, and gives `PluginParams`; a file reference also gives the source to store in KV
  `strategy_code` (`shared.sdk.codestore.put_code`) before the spec is written.

A portfolio file is a JSON list whose entries are either stored specs (`{"id", "params": {"type":
...}}`, the format `find-pairs --out` writes) or plug-in entries `{"id", "strategy": REF,
"params": {...}}` (plus any other spec field: `venue`, `mode`, `enabled`, `order_ttl_ms`); a file
reference is relative to the portfolio file.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from shared.config import field_of
from shared.messages.strategy import PluginParams, StrategyCode, StrategyParams, StrategySpec
from shared.sdk import loader
from shared.sdk.api import Strategy, TwoLegStrategy
from shared.sdk.loader import StrategyLoadError
from shared.sdk.values import declared_products, instantiate, params_error, text_values, values_of

_BUILTIN_FIELDS: dict[str, tuple[str, ...]] = {
    str(t.__struct_config__.tag): t.__struct_fields__
    for t in typing.get_args(StrategyParams)
    if t is not PluginParams
}
BUILTINS: frozenset[str] = frozenset(_BUILTIN_FIELDS)
"""The built-in strategies' names (their params' tags), which need no loading."""


def builtin_fields(name: str) -> tuple[str, ...]:
    """The params fields of a built-in (by `builtin_name`)."""
    return _BUILTIN_FIELDS[name]


@dataclass(frozen=True, slots=True)
class Resolved:
    """Params for a spec, and the source to store first when they name a file (else None)."""

    params: StrategyParams
    code: StrategyCode | None = None


@dataclass(frozen=True, slots=True)
class PortfolioEntry:
    """One instance of a portfolio file: its spec, and the source to store first (or None)."""

    spec: StrategySpec
    code: StrategyCode | None = None


def builtin_name(ref: str) -> str | None:
    """The built-in a reference names (`ma-crossover` spelled either way), else None."""
    name = ref.strip().replace("-", "_")
    return name if name in BUILTINS else None


def resolve(
    ref: str,
    values: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    search_paths: Iterable[str | Path] = (),
    from_text: bool = False,
) -> Resolved:
    """Validated params for `ref` with `values` (typed on a command line when `from_text`)."""
    builtin = builtin_name(ref)
    if builtin is not None:
        try:
            params = msgspec.convert({**values, "type": builtin}, StrategyParams, strict=False)
        except msgspec.ValidationError as exc:
            raise params_error(exc, _BUILTIN_FIELDS[builtin]) from None
        return Resolved(params)
    parsed = loader.parse_ref(ref)
    source = sha = None
    if parsed.kind == "file":
        source, sha, _ = loader.read_file_ref(ref, base_dir)
    cls = loader.load_class(ref, source=source, search_paths=search_paths)
    typed = text_values(cls, values) if from_text else values
    strategy = instantiate(cls, typed, strict=False)
    plugin = PluginParams(
        strategy=ref.strip(),
        code=sha or "",
        products=declared_products(strategy),
        values=values_of(strategy.params),
        max_unhedged_ms=strategy.params.max_unhedged_ms if isinstance(strategy, TwoLegStrategy) else 0,
    )
    code = None if source is None else StrategyCode(source=source, filename=parsed.target)
    return Resolved(plugin, code)


def expand_portfolio(
    raw: bytes, *, base_dir: Path | None = None, search_paths: Iterable[str | Path] = ()
) -> list[PortfolioEntry]:
    """Every instance of a portfolio file, validated; refused in one line naming the entry."""
    try:
        entries = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise StrategyLoadError(f"not JSON: {exc}") from None
    if not isinstance(entries, list) or not entries:
        raise StrategyLoadError("want a non-empty JSON list of strategies")
    out = [_entry(i, e, base_dir, tuple(search_paths)) for i, e in enumerate(entries, 1)]
    ids = [e.spec.id for e in out]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise StrategyLoadError(f"duplicate ids {duplicates}")
    return out


def _entry(
    number: int, entry: Any, base_dir: Path | None, search_paths: tuple[str | Path, ...]
) -> PortfolioEntry:
    if not isinstance(entry, dict):
        raise StrategyLoadError(f"entry {number}: want an object with id and params")
    label = f"entry {number} ({entry['id']})" if isinstance(entry.get("id"), str) else f"entry {number}"
    fields = dict(entry)
    code = None
    if "strategy" in fields:
        ref, values = fields.pop("strategy"), fields.pop("params", {})
        if not isinstance(ref, str) or not isinstance(values, dict):
            raise StrategyLoadError(f'{label}: want "strategy": REF and "params": {{...}}')
        try:
            resolved = resolve(ref, values, base_dir=base_dir, search_paths=search_paths)
        except StrategyLoadError as exc:
            raise StrategyLoadError(f"{label}: {exc}") from None
        fields["params"], code = resolved.params, resolved.code
    try:
        spec = msgspec.convert(fields, StrategySpec, from_attributes=True)
    except msgspec.ValidationError as exc:
        field, problem = field_of(exc)
        raise StrategyLoadError(f"{label}: {field}: {problem}") from None
    return PortfolioEntry(spec, code)


def build(
    params: PluginParams, *, source: str | None = None, search_paths: Iterable[str | Path] = ()
) -> Strategy[Any]:
    """The strategy a plug-in spec names, as a worker runs it: the class loaded (from `source`,
    the stored code of a file reference), its params rebuilt from the spec's values, and its
    products still the ones the spec declares (risk and reconciliation go by those)."""
    cls = loader.load_class(
        params.strategy, source=source, code=params.code or None, search_paths=search_paths
    )
    strategy = instantiate(cls, params.values, strict=False)
    products = declared_products(strategy)
    if products != params.products:
        raise StrategyLoadError(
            f"{cls.__name__}.products() is {products}, the spec says {params.products}: start it again"
        )
    return strategy
