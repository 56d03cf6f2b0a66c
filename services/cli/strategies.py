"""Strategies on the SDK: `start` one by reference (file, module, entry point or built-in name),
and `new-strategy` to write a new strategy file from a template.

`start` validates everything locally first (the file loads, the params convert, `products()`
answers), so a bad file is refused here in one line with exit code 2, never by a worker later.
The source of a file reference goes to KV `strategy_code` and the spec names it by sha256.
"""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from services.cli.exits import error_exit
from services.cli.trading import IdOption, PaperFlag, _default_id, _spec, _start, plugin_dirs
from shared.messages.strategy import PluginParams, StrategyParams
from shared.sdk import loader
from shared.sdk.loader import StrategyLoadError
from shared.sdk.specs import builtin_fields, builtin_name, resolve
from shared.sdk.values import parse_assignments

_PRODUCT_FIELDS = (("products",), ("product_id",), ("leg1_id", "leg2_id"), ("spot_id", "future_id"))
"""Params fields that `--products` fills, first match wins."""
_BUILTIN_PREFIX = {"ma_crossover": "ma", "basis": "basis", "pairs": "pairs"}


def _params_fields(ref: str) -> tuple[str, ...]:
    """The names of the params fields of what `ref` names (loading it when it is no built-in)."""
    builtin = builtin_name(ref)
    if builtin is not None:
        return builtin_fields(builtin)
    return tuple(loader.load_class(ref, search_paths=plugin_dirs()).params_type.__struct_fields__)


def _fill_products(fields: tuple[str, ...], values: dict[str, str], products: list[str]) -> None:
    """Put `--products` into the params field(s) that hold products, unless given by `--param`."""
    for names in _PRODUCT_FIELDS:
        if not set(names) <= set(fields):
            continue
        if names == ("products",):
            taken = {"products": ",".join(products)}
        elif len(names) == len(products):
            taken = dict(zip(names, products, strict=True))
        else:
            continue
        clash = sorted(set(taken) & set(values))
        if clash:
            raise StrategyLoadError(f"--products and --param {clash[0]} both set {clash[0]}")
        values.update(taken)
        return


def _instance_prefix(params: StrategyParams) -> str:
    if isinstance(params, PluginParams):
        return _snake(params.class_name).replace("_", "-")
    return _BUILTIN_PREFIX.get(str(type(params).__struct_config__.tag), "strategy")


def _snake(name: str) -> str:
    """`RsiReversion` → `rsi_reversion` (`RSIBot` → `rsibot`)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-\s]+", name) if part)


def write_template(name: str, folder: Path, *, two_leg: bool = False) -> tuple[Path, str]:
    """Write a new strategy file for `name` into `folder`; (path, class name). Never overwrites."""
    cls = _camel(name)
    if not cls.isidentifier() or not cls[0].isalpha():  # also refuses an empty name
        raise StrategyLoadError(f"{name!r} cannot be a class name: use letters, digits and '_'")
    path = folder / f"{_snake(cls)}.py"
    if path.exists():
        raise StrategyLoadError(f"{path} exists: choose another name or folder")
    template = "two_leg_strategy.py.tmpl" if two_leg else "strategy.py.tmpl"
    text = resources.files("services.cli").joinpath("templates", template).read_text()
    source = string.Template(text).substitute(name=cls, cls=cls, path=str(path))
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("x") as out:  # "x": a file created meanwhile is not overwritten either
        out.write(source)
    return path, cls


def register(app: typer.Typer) -> None:
    """Add `start` and `new-strategy` to the CLI."""

    @app.command()
    def start(
        strategy: Annotated[
            str,
            typer.Option(
                "--strategy",
                "-s",
                help="FILE.py:Class, package.module:Class, or a registered name (ma_crossover, basis, pairs, ...).",
            ),
        ],
        param: Annotated[
            list[str] | None, typer.Option("--param", "-p", help="A params field, NAME=VALUE; repeat it.")
        ] = None,
        products: Annotated[
            str, typer.Option(help="Products, comma-separated: fills product_id / leg ids / products.")
        ] = "",
        paper: PaperFlag = True,
        spec_id: IdOption = "",
    ) -> None:
        """Start a strategy instance from a file, a module or a registered name.

        Example: algopioneer start --strategy my_rsi.py:RsiReversion --param window=14 --products ETH-USD
        """
        listed = [p.strip() for p in products.split(",") if p.strip()]
        try:
            values = parse_assignments(param or ())
            if listed:
                _fill_products(_params_fields(strategy), values, listed)
            resolved = resolve(strategy, values, search_paths=plugin_dirs(), from_text=True)
        except StrategyLoadError as exc:
            raise error_exit(str(exc)) from None
        spec = _spec(spec_id or "pending", resolved.params, paper)
        if listed and tuple(listed) != spec.products:
            raise error_exit(f"{strategy} trades {', '.join(spec.products)}, not --products {products}")
        if not spec_id:  # a default id is letters, digits and '-' only, so still a valid id
            spec = msgspec.structs.replace(
                spec, id=_default_id(_instance_prefix(spec.params), *spec.products)
            )
        _start([spec], [resolved.code] if resolved.code else [])

    @app.command("new-strategy")
    def new_strategy(
        name: Annotated[
            str, typer.Argument(help="Class name, e.g. RsiReversion (the file is rsi_reversion.py).")
        ],
        folder: Annotated[Path, typer.Option("--dir", help="Folder to write it in.")] = Path(),
        two_leg: Annotated[
            bool, typer.Option("--two-leg", help="Two products traded as one position (pairs-style).")
        ] = False,
    ) -> None:
        """Write a new strategy file from a template that backtests as it is.

        Example: algopioneer new-strategy RsiReversion --dir strategies
        """
        try:
            path, cls = write_template(name, folder, two_leg=two_leg)
        except StrategyLoadError as exc:
            raise error_exit(str(exc)) from None
        except OSError as exc:
            raise error_exit(f"cannot write {folder}: {exc.strerror or exc}") from None
        typer.echo(f"wrote {path}")
        typer.echo(f"backtest it: algopioneer backtest --strategy {path}:{cls} --synthetic")
