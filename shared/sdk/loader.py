"""Finding a user's strategy class: by file, by module or by entry point, refused in one line.

A reference is one of
- `path/to/file.py:Class`: the file's source is executed as the module
  `algopioneer_strategy_<sha256[:16]>`, registered in `sys.modules` and `linecache` so that pickle
  (the strategy's state) and `inspect.getsource` (its fingerprint) work as for an imported module.
  Workers run the exact source the CLI validated (it travels in KV `strategy_code`), so a file
  reference never needs a shared filesystem;
- `package.module:Class`: imported (optionally from extra folders, `search_paths`);
- `name`: an entry point of group `algopioneer.strategies` (how the built-ins and installed
  packages register their strategies).

Every failure is a `StrategyLoadError` whose message is one line an operator can act on. Pure: no
bus, no clock; the only I/O is reading a file the caller names. Turning values into params and an
instance of the loaded class is `shared.sdk.values`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import linecache
import os
import re
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.messages.strategy import Params
from shared.sdk.api import Strategy, TwoLegStrategy

ENTRY_POINT_GROUP = "algopioneer.strategies"
MODULE_PREFIX = "algopioneer_strategy_"
MAX_SOURCE_BYTES = 512 * 1024
"""A strategy file travels in one KV value; anything this large is not one strategy."""

PLUGIN_DIRS_ENV = "ALGOPIONEER_STRATEGY__PLUGIN_DIRS"
"""The setting naming extra folders to import `package.module:Class` references from (separated
like PATH); the CLI reads it from the environment, strategy workers from their settings."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_modules: dict[str, types.ModuleType] = {}
"""Modules executed from source, by sha256: one module per source, however often it is loaded."""


class StrategyLoadError(ValueError):
    """A strategy cannot be loaded or built; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class StrategyRef:
    """A parsed reference: `kind` says where `target` (a path, a module or an entry point name) is."""

    kind: Literal["file", "module", "entry_point"]
    target: str
    class_name: str
    """Empty for an entry point (the entry point names the class)."""


def parse_ref(ref: str) -> StrategyRef:
    """Split a reference into its kind, target and class name; refuse a malformed one."""
    text = ref.strip()
    if not text:
        raise StrategyLoadError(
            "empty strategy reference (want FILE.py:Class, package.module:Class or a name)"
        )
    if ":" not in text:
        if text.endswith(".py") or "/" in text:
            raise StrategyLoadError(f"{text}: name the class too, as {text}:MyStrategy")
        if not _ENTRY_NAME.match(text):
            raise StrategyLoadError(f"{text!r} is not a strategy reference")
        return StrategyRef("entry_point", text, "")
    target, _, class_name = text.rpartition(":")
    if not _IDENTIFIER.match(class_name):
        raise StrategyLoadError(f"{text}: {class_name!r} is not a class name")
    if target.endswith(".py") or "/" in target or "\\" in target:
        return StrategyRef("file", target, class_name)
    if not _DOTTED.match(target):
        raise StrategyLoadError(f"{text}: {target!r} is neither a .py file nor a module name")
    return StrategyRef("module", target, class_name)


def source_sha(source: str) -> str:
    """The identity of a strategy file's source (hex sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(source.encode()).hexdigest()


def read_file_ref(ref: str, base_dir: Path | None = None) -> tuple[str, str, str]:
    """Read the file of a file reference (relative to `base_dir`, else the working directory):
    (source, sha256, class name)."""
    parsed = parse_ref(ref)
    if parsed.kind != "file":
        raise StrategyLoadError(f"{ref} is not a file reference (FILE.py:Class)")
    path = Path(parsed.target).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StrategyLoadError(f"no such file: {path}") from None
    except OSError as exc:
        raise StrategyLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise StrategyLoadError(
            f"{path}: {len(raw)} bytes, more than a strategy file may hold ({MAX_SOURCE_BYTES})"
        )
    try:
        source = raw.decode()
    except UnicodeDecodeError:
        raise StrategyLoadError(f"{path}: not UTF-8 text") from None
    return source, source_sha(source), parsed.class_name


def load_class(
    ref: str, *, source: str | None = None, code: str | None = None, search_paths: Iterable[str | Path] = ()
) -> type[Strategy[Any]]:
    """The strategy class a reference names, checked (see `check_class`).

    For a file reference, `source` is the file's text when the caller has it (a worker, from KV);
    otherwise the file is read from disk. `code`, when given, is the sha256 the source must have."""
    parsed = parse_ref(ref)
    if parsed.kind == "file":
        if source is None:
            source, _, _ = read_file_ref(ref)
        module = exec_source(source, parsed.target, code=code)
        found = getattr(module, parsed.class_name, None)
        if found is None:
            raise StrategyLoadError(f"{parsed.target} has no class {parsed.class_name}")
        return check_class(found, parsed.class_name)
    if parsed.kind == "module":
        return check_class(_from_module(parsed, search_paths), parsed.class_name)
    return check_class(_from_entry_point(parsed.target), parsed.target)


def exec_source(source: str, filename: str, *, code: str | None = None) -> types.ModuleType:
    """Run a strategy file's source as its own module (once per distinct source)."""
    sha = source_sha(source)
    if code and code != sha:
        raise StrategyLoadError(f"{filename}: source does not match its code {code[:12]} (got {sha[:12]})")
    cached = _modules.get(sha)
    if cached is not None:
        return cached
    name = f"{MODULE_PREFIX}{sha[:16]}"
    # The sha in the name keeps two versions of one file apart in linecache (and in tracebacks).
    shown = f"{filename}@{sha[:12]}"
    try:
        compiled = compile(source, shown, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise StrategyLoadError(f"{filename}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    module = types.ModuleType(name)
    module.__file__ = shown
    lines = source.splitlines(keepends=True)
    linecache.cache[shown] = (len(source), None, lines, shown)  # mtime None: never evicted
    sys.modules[name] = module  # before running it: its own types resolve annotations through it
    try:
        exec(compiled, module.__dict__)  # noqa: S102 - the user's own strategy file, by design
    except Exception as exc:
        del sys.modules[name]
        linecache.cache.pop(shown, None)
        raise StrategyLoadError(f"{filename}: {one_line(exc)}") from None
    _modules[sha] = module
    return module


def _from_module(parsed: StrategyRef, search_paths: Iterable[str | Path]) -> object:
    for folder in (str(Path(p).expanduser()) for p in search_paths):
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(parsed.target)
    except ModuleNotFoundError as exc:
        if exc.name and (parsed.target == exc.name or parsed.target.startswith(f"{exc.name}.")):
            raise StrategyLoadError(f"no module named {parsed.target!r}") from None
        raise StrategyLoadError(f"{parsed.target}: {one_line(exc)}") from None
    except Exception as exc:
        raise StrategyLoadError(f"{parsed.target}: {one_line(exc)}") from None
    found = getattr(module, parsed.class_name, None)
    if found is None:
        raise StrategyLoadError(f"module {parsed.target} has no class {parsed.class_name}")
    return found


def entry_point_names() -> list[str]:
    """Every strategy registered as an entry point, sorted."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})


def _from_entry_point(name: str) -> object:
    found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name))
    if not found:
        known = ", ".join(entry_point_names()) or "none installed"
        raise StrategyLoadError(
            f"no strategy named {name!r} (not FILE.py:Class or package.module:Class; registered: {known})"
        )
    try:
        return found[0].load()
    except Exception as exc:
        raise StrategyLoadError(f"strategy {name} ({found[0].value}): {one_line(exc)}") from None


def check_class(found: object, label: str) -> type[Strategy[Any]]:
    """Refuse what cannot run as a strategy, before any instance exists."""
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise StrategyLoadError(f"{label} is not a Strategy (subclass shared.sdk.Strategy)")
    name = found.__name__
    params_type = getattr(found, "params_type", None)
    if not (isinstance(params_type, type) and issubclass(params_type, Params)):
        raise StrategyLoadError(
            f"{name} declares no Params type (subclass Strategy[MyParams] with MyParams(Params))"
        )
    if issubclass(found, TwoLegStrategy):
        missing = [m for m in ("legs", "signal") if getattr(found, m) is getattr(TwoLegStrategy, m)]
        if missing:
            raise StrategyLoadError(
                f"{name} is a TwoLegStrategy without {' or '.join(f'{m}()' for m in missing)}"
            )
    return found


def split_dirs(text: str) -> tuple[str, ...]:
    """Folders separated like PATH (`PLUGIN_DIRS_ENV`'s value)."""
    return tuple(p.strip() for p in text.split(os.pathsep) if p.strip())


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line (the first line of a multi-line message)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
