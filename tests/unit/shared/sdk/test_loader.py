"""Loading a user's strategy by file, module or entry point; every refusal is one line."""

from __future__ import annotations

import inspect
import pickle
import sys
import textwrap
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.messages.strategy import PluginParams
from shared.sdk import Strategy
from shared.sdk.loader import (
    ENTRY_POINT_GROUP,
    StrategyLoadError,
    StrategyRef,
    load_class,
    parse_ref,
    read_file_ref,
    source_sha,
    split_dirs,
)
from shared.sdk.specs import build
from shared.sdk.state import dump_state, fingerprint, load_state
from shared.sdk.values import instantiate, make_params, parse_assignments, parse_params, values_of

GOOD = textwrap.dedent(
    '''
    from collections import deque
    from decimal import Decimal

    from shared.sdk import Bar, Context, Data, Params, Strategy


    class MomoParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
        product_id: str = "BTC-USD"
        window: int = 5
        size: Decimal = Decimal("0.001")
        watch: tuple[str, ...] = ()

        def __post_init__(self) -> None:
            if self.window < 2:
                raise ValueError("window must be at least 2")


    class Momo(Strategy[MomoParams]):
        """Remembers closes."""

        def __init__(self, params: MomoParams) -> None:
            super().__init__(params)
            self.closes: deque[Decimal] = deque(maxlen=params.window)

        def products(self) -> tuple[str, ...]:
            return (self.params.product_id, *self.params.watch)

        def data(self) -> Data:
            return Data(bars_s=60)

        def on_bar(self, bar: Bar, ctx: Context) -> None:
            self.closes.append(bar.close)
    '''
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def refused(ref: str, **kwargs: Any) -> str:
    with pytest.raises(StrategyLoadError) as caught:
        load_class(ref, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_references_are_files_modules_or_entry_point_names() -> None:
    assert parse_ref("strategies/rsi.py:Rsi") == StrategyRef("file", "strategies/rsi.py", "Rsi")
    assert parse_ref("rsi.py:Rsi") == StrategyRef("file", "rsi.py", "Rsi")
    assert parse_ref("my_pkg.strats:Rsi") == StrategyRef("module", "my_pkg.strats", "Rsi")
    assert parse_ref(" ma_crossover ") == StrategyRef("entry_point", "ma_crossover", "")
    for bad, reason in [
        ("", "empty"),
        ("rsi.py", "name the class too"),
        ("rsi.py:1x", "not a class name"),
        ("my-pkg.x:Rsi", "neither a .py file nor a module"),
        ("a b", "not a strategy reference"),
    ]:
        with pytest.raises(StrategyLoadError, match=reason):
            parse_ref(bad)


def test_a_file_loads_as_its_own_module_once(tmp_path: Path) -> None:
    write(tmp_path, "momo.py", GOOD)
    ref = f"{tmp_path}/momo.py:Momo"
    cls = load_class(ref)
    assert cls.__name__ == "Momo"
    assert cls.__module__ == f"algopioneer_strategy_{source_sha(GOOD)[:16]}"
    assert sys.modules[cls.__module__].Momo is cls
    assert load_class(ref) is cls  # the same source is one module
    assert load_class("elsewhere/momo.py:Momo", source=GOOD, code=source_sha(GOOD)) is cls
    assert "Remembers closes." in inspect.getsource(cls)  # the state's fingerprint reads it
    source, sha, name = read_file_ref("momo.py:Momo", base_dir=tmp_path)
    assert (source, sha, name) == (GOOD, source_sha(GOOD), "Momo")


def test_an_instance_and_its_state_pickle_like_an_imported_class(tmp_path: Path) -> None:
    cls = load_class("momo.py:Momo", source=GOOD)
    strategy = instantiate(cls, {"window": 3})
    vars(strategy)["closes"].extend([Decimal("1"), Decimal("2")])
    again = pickle.loads(pickle.dumps(strategy))
    assert type(again) is cls
    assert list(vars(again)["closes"]) == [Decimal("1"), Decimal("2")]
    fresh = instantiate(cls, {"window": 3})
    load_state(fresh, dump_state(strategy))
    assert vars(fresh)["closes"] == vars(strategy)["closes"]
    assert fingerprint(cls, strategy.params) == fingerprint(cls, fresh.params)


def test_two_versions_of_one_file_stay_apart(tmp_path: Path) -> None:
    old = load_class("momo.py:Momo", source=GOOD)
    new_source = GOOD.replace("Remembers closes.", "Remembers closes, v2.")
    new = load_class("momo.py:Momo", source=new_source)
    assert old is not new
    assert "v2" in inspect.getsource(new)
    assert "v2" not in inspect.getsource(old)
    params = make_params(old, {})
    assert fingerprint(old, params) != fingerprint(new, make_params(new, {}))


@pytest.mark.parametrize(
    ("source", "ref", "message"),
    [
        ("class X(:\n    pass\n", "bad.py:X", "bad.py:1: SyntaxError: "),
        (
            "import nope_not_installed_xyz\n",
            "bad.py:X",
            "bad.py: ModuleNotFoundError: No module named 'nope_not_installed_xyz'",
        ),
        ("raise RuntimeError('boom\\nsecond line')\n", "bad.py:X", "bad.py: RuntimeError: boom"),
        (GOOD, "bad.py:Missing", "bad.py has no class Missing"),
        ("X = 1\n", "bad.py:X", "X is not a Strategy (subclass shared.sdk.Strategy)"),
        ("class X:\n    pass\n", "bad.py:X", "X is not a Strategy"),
        (
            "from shared.sdk import Strategy\nclass X(Strategy):\n    pass\n",
            "bad.py:X",
            "X declares no Params type",
        ),
        (
            "from shared.sdk import TwoLegStrategy, TwoLegParams\nclass X(TwoLegStrategy[TwoLegParams]):\n    pass\n",
            "bad.py:X",
            "X is a TwoLegStrategy without legs() or signal()",
        ),
        (
            "from shared.sdk import TwoLegStrategy, TwoLegParams\n"
            "class X(TwoLegStrategy[TwoLegParams]):\n    def legs(self):\n        return ('A-USD', 'B-USD')\n",
            "bad.py:X",
            "X is a TwoLegStrategy without signal()",
        ),
    ],
)
def test_a_bad_file_is_refused_in_one_line(source: str, ref: str, message: str) -> None:
    assert message in refused(ref, source=source)


def test_a_missing_file_or_changed_source_is_refused(tmp_path: Path) -> None:
    assert refused(f"{tmp_path}/none.py:X") == f"no such file: {tmp_path}/none.py"
    assert "does not match its code" in refused("a.py:Momo", source=GOOD, code="0" * 64)
    (tmp_path / "bin.py").write_bytes(b"\xff\xfe")
    assert "not UTF-8" in refused(f"{tmp_path}/bin.py:X")


PRODUCTS = """
from shared.sdk import Params, Strategy
class P(Params, frozen=True, kw_only=True):
    n: int = 0
class X(Strategy[P]):
    def products(self):
        {body}
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise KeyError('nope')", "X.products() failed: KeyError: 'nope'"),
        ("return ()", "X.products() must return a non-empty tuple of product ids"),
        ("return 'BTC-USD'", "must return a non-empty tuple"),
        ("return (1,)", "X.products() returned 1, not a product id"),
        ("return ('BTC.USD',)", "returned 'BTC.USD', not a product id"),
        ("return ('BTC-USD', 'BTC-USD')", "lists a product twice"),
    ],
)
def test_products_must_answer_with_product_ids(body: str, message: str) -> None:
    cls = load_class("p.py:X", source=PRODUCTS.format(body=body))
    with pytest.raises(StrategyLoadError) as caught:
        instantiate(cls, {})
    assert message in str(caught.value)


def test_the_default_products_need_a_product_id() -> None:
    source = "from shared.sdk import Params, Strategy\nclass P(Params, frozen=True):\n    n: int = 0\nclass X(Strategy[P]):\n    pass\n"
    with pytest.raises(StrategyLoadError, match=r"X.products\(\) failed: TypeError: declare products"):
        instantiate(load_class("p.py:X", source=source), {})


def test_bad_params_name_the_field() -> None:
    cls = load_class("momo.py:Momo", source=GOOD)
    cases: list[tuple[dict[str, object], str]] = [
        ({"window": "x"}, "invalid params: window: Expected `int`, got `str`"),
        ({"window": 1}, "invalid params: window: window must be at least 2"),
        ({"windw": 3}, "invalid params: windw: no such field (fields: product_id, window, size, watch)"),
    ]
    for values, message in cases:
        with pytest.raises(StrategyLoadError) as caught:
            make_params(cls, values)
        assert str(caught.value) == message
    params = make_params(cls, {"size": 0.002, "window": 3})
    assert params.size == Decimal("0.002")  # type: ignore[attr-defined]
    assert make_params(cls, values_of(params), strict=False) == params


def test_command_line_values_are_converted_from_text() -> None:
    cls = load_class("momo.py:Momo", source=GOOD)
    params = parse_params(cls, ["window=7", "size=0.01", "watch=ETH-USD, SOL-USD"])
    assert params == make_params(cls, {"window": 7, "size": "0.01", "watch": ["ETH-USD", "SOL-USD"]})
    assert instantiate(cls, values_of(params), strict=False).products() == ("BTC-USD", "ETH-USD", "SOL-USD")
    assert parse_assignments(["a=1", "b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(StrategyLoadError, match="want NAME=VALUE"):
        parse_assignments(["window"])
    with pytest.raises(StrategyLoadError, match="--param a given twice"):
        parse_assignments(["a=1", "a=2"])
    assert split_dirs(" /a : /b ::") == ("/a", "/b")


def test_init_and_data_failures_are_one_line() -> None:
    source = GOOD + "\nclass Bad(Momo):\n    def data(self):\n        return 3\n"
    with pytest.raises(StrategyLoadError, match=r"Bad.data\(\) must return a Data, got int"):
        instantiate(load_class("m.py:Bad", source=source), {})
    source = (
        GOOD + "\nclass Bad(Momo):\n    def __init__(self, params):\n        raise ValueError('no\\nmore')\n"
    )
    with pytest.raises(StrategyLoadError, match=r"^Bad\(params\) failed: ValueError: no$"):
        instantiate(load_class("m.py:Bad", source=source), {})


def test_a_module_loads_from_a_search_path(tmp_path: Path) -> None:
    package = tmp_path / "plugins" / "h2_loader_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    write(package, "momo.py", GOOD)
    write(package, "broken.py", "import nope_not_installed_xyz\n")
    search = [tmp_path / "plugins"]
    cls = load_class("h2_loader_pkg.momo:Momo", search_paths=search)
    assert cls.__module__ == "h2_loader_pkg.momo"
    assert issubclass(cls, Strategy)
    assert (
        refused("h2_loader_pkg.nothing:Momo", search_paths=search)
        == "no module named 'h2_loader_pkg.nothing'"
    )
    assert refused("h2_loader_pkg.momo:Nope") == "module h2_loader_pkg.momo has no class Nope"
    assert refused("h2_loader_pkg.broken:X") == (
        "h2_loader_pkg.broken: ModuleNotFoundError: No module named 'nope_not_installed_xyz'"
    )


def test_an_entry_point_names_an_installed_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution installed on the path (its metadata and module in a folder) registers one."""
    write(tmp_path, "h2_ep_momo.py", GOOD)
    info = tmp_path / "h2_ep_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: h2-ep-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[algopioneer.strategies]\nh2_momo = h2_ep_momo:Momo\nh2_broken = h2_ep_missing_module:X\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_class("h2_momo").__name__ == "Momo"
    message = refused("h2_no_such_name")
    assert message.startswith("no strategy named 'h2_no_such_name'")
    assert "h2_momo" in message
    assert refused("h2_broken") == (
        "strategy h2_broken (h2_ep_missing_module:X): ModuleNotFoundError: No module named 'h2_ep_missing_module'"
    )


def test_a_worker_builds_the_spec_it_is_given() -> None:
    sha = source_sha(GOOD)
    params = PluginParams(strategy="momo.py:Momo", code=sha, products=("BTC-USD",), values={"window": 4})
    strategy = build(params, source=GOOD)
    assert strategy.params.window == 4
    moved = PluginParams(strategy="momo.py:Momo", code=sha, products=("ETH-USD",), values={"window": 4})
    with pytest.raises(
        StrategyLoadError, match=r"products\(\) is \('BTC-USD',\), the spec says \('ETH-USD',\)"
    ):
        build(moved, source=GOOD)
    with pytest.raises(StrategyLoadError, match="does not match its code"):
        build(params, source=GOOD + "\n")


def test_the_registered_built_ins_are_strategies() -> None:
    """pyproject.toml's entry points name real classes (read from the file: no install needed)."""
    project = tomllib.loads((Path(__file__).resolve().parents[4] / "pyproject.toml").read_text())
    registered = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert set(registered) == {"ma_crossover", "basis", "pairs"}
    values: dict[str, dict[str, str]] = {
        "ma_crossover": {"product_id": "BTC-USD"},
        "basis": {"spot_id": "BTC-USD", "future_id": "BIP-20DEC30-CDE"},
        "pairs": {"leg1_id": "ETH-USD", "leg2_id": "BTC-USD"},
    }
    for name, target in registered.items():
        cls = load_class(target)
        assert cls.params_type.__struct_config__.tag == name
        assert instantiate(cls, values[name]).products() == tuple(values[name].values())
