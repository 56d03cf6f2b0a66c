"""The dependency arrows of docs/architecture.md, held by reading the source (AST only, nothing imported).

- Services are independent: `services/X` never imports `services/Y`, except the entry points that start
  or check what they run (`ALLOWED_SERVICE_IMPORTS`).
- `shared` never imports `services`: contracts and cores sit below every service.
- The pure cores never import the bus, asyncio, nats or a clock (`time`, `datetime.now()`), directly
  or through another first-party module: they take the time as an argument, so tests and backtests
  drive them exactly (`IMPURE_ALLOWED` lists the adapters that live beside them).
- Only the simulator's own package and the CLI's `sim` command import `services.exchange_sim`
  outside the tests: production code never depends on the fake exchange.

An exception that no longer matches anything fails too, so the lists only shrink. The last two
tests keep docs/architecture.md honest: every subject, stream and bucket is in it, and every type
it cites is defined in the file it names.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("shared", "services")

# (importing unit, imported module or package): each a deliberate exception to "services are independent".
ALLOWED_SERVICE_IMPORTS: dict[tuple[str, str], str] = {
    ("services.cli", "services.launcher"): "`up` runs the stack in-process through the launcher",
    ("services.cli", "services.exchange_sim.__main__"): "`sim` runs the simulator alone (see the sim arrow)",
    ("services.launcher", "services.stack"): "the table of services the launcher starts",
    ("services.launcher", "services.risk.config"): "refuses `up --live` without risk's explicit limits",
    ("services.console", "services.cli.view"): "the console serves the CLI's stack view over HTTP",
    ("services.console", "services.cli.positions"): "and the CLI's positions report, not a second copy",
}

PURE_CORES = (
    "shared/risk",
    "shared/strategies",
    "shared/ledger.py",
    "shared/indicators.py",
    "shared/venue",
    "shared/backtest",
)
# Modules that pure cores must not reach: the bus and its runtime, event loops, NATS, the clock.
FORBIDDEN = (
    "asyncio",
    "uvloop",
    "nats",
    "time",
    "shared.bus",
    "shared.runtime",
    "shared.streams",
    "shared.tasks",
    "shared.natsserver",
)
CLOCK_READS = frozenset({"now", "utcnow", "today"})
NOTHING: frozenset[str] = frozenset()
# Module -> forbidden modules it may import, and why. A module importing one of these inherits the
# exception for that import only.
IMPURE_ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "shared.backtest.rest_candles": (
        frozenset({"time"}),
        "the REST candle fetcher: backs off with time.sleep and defaults its clock to time.time",
    ),
}

SIM = "services.exchange_sim"
# (importing module, enclosing function) allowed to import the simulator outside its own package.
SIM_IMPORTERS = frozenset({("services.cli.main", "sim")})


@dataclass(frozen=True)
class Import:
    """One imported module, where it is imported and inside which function (empty at module level)."""

    target: str
    line: int
    function: str


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def python_files(*roots: str) -> Iterator[Path]:
    for root in roots:
        path = REPO / root
        yield from [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


@cache
def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[Import] = []
        self._function: list[str] = []

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._function.append(node.name)
        self.generic_visit(node)
        self._function.pop()

    visit_FunctionDef = _in_function
    visit_AsyncFunctionDef = _in_function

    def _add(self, target: str, node: ast.stmt) -> None:
        self.found.append(Import(target, node.lineno, ".".join(self._function)))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        self._add(base, node)
        for alias in node.names:  # `from package import submodule` imports the submodule too
            if base.startswith(FIRST_PARTY) and module_file(f"{base}.{alias.name}") is not None:
                self._add(f"{base}.{alias.name}", node)


@cache
def imports_of(path: Path) -> tuple[Import, ...]:
    visitor = _Imports(module_name(path), path.name == "__init__.py")
    visitor.visit(parse(path))
    return tuple(visitor.found)


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def service_unit(module: str) -> str:
    """`services.risk.book` -> `services.risk`; `services.launcher` -> itself; `services` -> itself."""
    return ".".join(module.split(".")[:2])


def clock_reads(tree: ast.Module) -> list[str]:
    """`datetime.now()`-style reads through any name bound to the datetime module or its classes."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name == "datetime"}
        elif isinstance(node, ast.ImportFrom) and node.module == "datetime":
            names |= {a.asname or a.name for a in node.names if a.name in ("datetime", "date")}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_READS:
            root: ast.expr = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in names:
                found.append(f"{node.lineno} reads the clock ({ast.unparse(node)})")
    return found


def reach(starts: list[str]) -> dict[str, str]:
    """Every first-party module `starts` import, directly or not, each with the module that imports it."""
    importer = dict.fromkeys(starts, "")
    todo = list(starts)
    while todo:
        module = todo.pop()
        path = module_file(module)
        if path is None:
            continue
        # Importing a.b.c runs a/__init__ and a/b/__init__ first.
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        for target in [*parents, *(i.target for i in imports_of(path))]:
            if target.startswith(FIRST_PARTY) and target not in importer:
                importer[target] = module
                todo.append(target)
    return importer


def chain(module: str, importer: dict[str, str]) -> str:
    links = [module]
    while importer[links[-1]]:
        links.append(importer[links[-1]])
    return " <- ".join(links)


def test_services_do_not_import_each_other() -> None:
    used: set[tuple[str, str]] = set()
    crossings = []
    for path in python_files("services"):
        unit = service_unit(module_name(path))
        for imp in imports_of(path):
            if not within(imp.target, "services") or imp.target == "services":
                continue
            if service_unit(imp.target) == unit:
                continue
            key = next(
                (k for k in ALLOWED_SERVICE_IMPORTS if k[0] == unit and within(imp.target, k[1])), None
            )
            if key is None:
                crossings.append(f"{module_name(path)}:{imp.line} imports {imp.target}")
            else:
                used.add(key)
    assert not crossings, "a service imports another service; share through `shared` instead"
    assert used == set(ALLOWED_SERVICE_IMPORTS), f"stale exceptions: {set(ALLOWED_SERVICE_IMPORTS) - used}"


def test_shared_does_not_import_services() -> None:
    upward = [
        f"{module_name(path)}:{imp.line} imports {imp.target}"
        for path in python_files("shared")
        for imp in imports_of(path)
        if within(imp.target, "services")
    ]
    assert not upward


def test_pure_cores_reach_no_bus_loop_or_clock() -> None:
    importer = reach([module_name(path) for path in python_files(*PURE_CORES)])
    problems, used = [], set()
    for module in sorted(importer):
        path = module_file(module)
        if path is None:
            continue
        problems += [f"{chain(module, importer)}: line {read}" for read in clock_reads(parse(path))]
        allowed = IMPURE_ALLOWED.get(module, (NOTHING, ""))[0]
        for imp in imports_of(path):
            if not any(within(imp.target, forbidden) for forbidden in FORBIDDEN):
                continue
            if any(within(imp.target, a) for a in allowed):
                used.add(module)
            else:
                problems.append(f"{chain(module, importer)}: line {imp.line} imports {imp.target}")
    assert not problems, "a pure core reaches the bus, an event loop or the clock"
    assert used == set(IMPURE_ALLOWED), f"stale exceptions: {set(IMPURE_ALLOWED) - used}"


def test_only_the_sim_command_imports_the_simulator() -> None:
    importers = [
        f"{module_name(path)}:{imp.line} ({imp.function or 'module level'}) imports {imp.target}"
        for path in python_files("shared", "services", "bench")
        if not within(module_name(path), SIM)
        for imp in imports_of(path)
        if within(imp.target, SIM) and (module_name(path), imp.function) not in SIM_IMPORTERS
    ]
    assert not importers


def test_the_scan_sees_what_it_checks() -> None:
    """Guards the guard: known imports and clock reads are found, so the empty results above mean something."""
    sim = [i for i in imports_of(REPO / "services/cli/main.py") if within(i.target, SIM)]
    assert [i.function for i in sim] == ["sim"]
    assert any(i.target == "time" for i in imports_of(REPO / "shared/backtest/rest_candles.py"))
    relative = _Imports("shared.risk.rules", is_package=False)
    relative.visit(ast.parse("from .limits import RiskLimits\nfrom .. import money\n"))
    assert [i.target for i in relative.found] == ["shared.risk.limits", "shared", "shared.money"]
    reads = ast.parse(
        "import datetime as dt\nfrom datetime import date\ndt.datetime.now(dt.UTC)\ndate.today()\n"
    )
    assert clock_reads(reads) == ["3 reads the clock (dt.datetime.now)", "4 reads the clock (date.today)"]
    assert (
        clock_reads(ast.parse("from datetime import UTC, datetime\ndatetime.fromtimestamp(0, tz=UTC)\n"))
        == []
    )
    assert all(module_file(core.removesuffix(".py").replace("/", ".")) for core in PURE_CORES)


DOC = REPO / "docs" / "architecture.md"
_DOC_TOKEN = re.compile(r"`([A-Z][a-z]\w*)`|\(`([\w/]+\.py)`\)")


def defines_class(path: Path, name: str) -> bool:
    return path.is_file() and any(
        isinstance(n, ast.ClassDef) and n.name == name for n in ast.walk(parse(path))
    )


def test_the_architecture_doc_points_at_real_types() -> None:
    """In a table row of docs/architecture.md, a type names the file cited next after it (a bare file
    name is in `shared/messages/`): a newcomer reaches the definition in one hop, and a moved type
    fails here until the doc moves with it."""
    wrong = []
    for row in (line for line in DOC.read_text().splitlines() if line.startswith("|")):
        pending: list[str] = []
        for type_name, file in _DOC_TOKEN.findall(row):
            if type_name:
                pending.append(type_name)
                continue
            path = REPO / file if "/" in file else REPO / "shared" / "messages" / file
            wrong += [f"{name} is not defined in {file}" for name in pending if not defines_class(path, name)]
            pending = []
    assert not wrong, "fix the file named in docs/architecture.md (or the type moved)"


def test_the_architecture_doc_names_every_subject_stream_and_bucket() -> None:
    names = []
    for node in parse(REPO / "shared" / "subjects.py").body:
        if isinstance(node, ast.FunctionDef) and node.name not in ("token", "product_key", "_join"):
            names.append(f"(`{node.name}`")  # a subject, named in the doc's subject table
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            target, value = node.targets[0], node.value.value
            assert isinstance(target, ast.Name)
            if target.id.startswith(("STREAM_", "KV_")) and isinstance(value, str):
                names.append(f"`{value}`")
            elif target.id.startswith("RISK_"):
                names.append(f"(`{target.id}`)")
    missing = [name for name in names if name not in DOC.read_text()]
    assert len(names) > 30
    assert not missing, "add them to docs/architecture.md: what they carry, who publishes, who reads"
