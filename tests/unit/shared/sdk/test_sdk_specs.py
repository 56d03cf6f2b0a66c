"""From a reference and values to a spec's params: built-ins by name, plug-ins loaded and pinned,
portfolio files with both kinds of entry."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from shared import codec
from shared.messages import MaCrossoverParams, PairsParams, StrategySpec
from shared.messages.strategy import PluginParams, StrategyCode
from shared.sdk.loader import StrategyLoadError, source_sha
from shared.sdk.specs import BUILTINS, builtin_name, expand_portfolio, resolve

SOURCE = """
from decimal import Decimal
from shared.sdk import Params, Strategy

class BandParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    product_id: str = "BTC-USD"
    width: Decimal = Decimal("1")
    hedges: tuple[str, ...] = ()

class Band(Strategy[BandParams]):
    def products(self) -> tuple[str, ...]:
        return (self.params.product_id, *self.params.hedges)
"""


@pytest.fixture
def strategy_file(tmp_path: Path) -> Path:
    folder = tmp_path / "strategies"
    folder.mkdir()
    path = folder / "band.py"
    path.write_text(SOURCE)
    return path


def test_built_ins_are_named_by_their_tags() -> None:
    assert {"ma_crossover", "basis", "pairs"} == BUILTINS
    assert builtin_name("ma-crossover") == "ma_crossover"
    assert builtin_name("band.py:Band") is None
    resolved = resolve("ma_crossover", {"product_id": "ETH-USD", "short_window": "3"}, from_text=True)
    assert resolved == type(resolved)(MaCrossoverParams(product_id="ETH-USD", short_window=3))
    with pytest.raises(StrategyLoadError, match=r"^invalid params: leg2_id: required$"):
        resolve("pairs", {"leg1_id": "ETH-USD"})


def test_a_file_is_pinned_by_its_source(strategy_file: Path) -> None:
    resolved = resolve(f"{strategy_file}:Band", {"width": "0.5", "hedges": "ETH-USD"}, from_text=True)
    assert resolved.params == PluginParams(
        strategy=f"{strategy_file}:Band",
        code=source_sha(SOURCE),
        products=("BTC-USD", "ETH-USD"),
        values={"product_id": "BTC-USD", "width": "0.5", "hedges": ["ETH-USD"]},
    )
    assert resolved.code == StrategyCode(source=SOURCE, filename=str(strategy_file))
    spec = StrategySpec(id="band-1", params=resolved.params)
    assert (spec.kind, spec.products) == ("Band", ("BTC-USD", "ETH-USD"))
    assert codec.decode(codec.encode(spec), StrategySpec) == spec  # values come back as stored


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"strategy": ""}, "strategy must be a reference"),
        ({"code": "abc"}, "code must be empty or a sha256"),
        ({"products": []}, "products must name at least one product"),
        ({"products": ["BTC.USD"]}, "products must be product ids"),
        ({"products": ["BTC-USD", "BTC-USD"]}, "must not repeat"),
    ],
)
def test_plugin_params_are_checked_on_write(fields: dict[str, object], problem: str) -> None:
    raw = {"type": "plugin", "strategy": "band.py:Band", "products": ["BTC-USD"], **fields}
    with pytest.raises(msgspec.ValidationError, match=problem):
        msgspec.convert({"id": "x", "params": raw}, StrategySpec)


def test_an_entry_point_name_is_its_kind() -> None:
    params = PluginParams(strategy="rsi_reversion", products=("BTC-USD",))
    assert StrategySpec(id="r", params=params).kind == "rsi_reversion"


def test_a_portfolio_mixes_stored_specs_and_plugins(strategy_file: Path) -> None:
    portfolio = strategy_file.parent.parent / "portfolio.json"
    entries = [
        {
            "id": "band-btc",
            "strategy": "strategies/band.py:Band",
            "params": {"width": 2},
            "order_ttl_ms": 2000,
        },
        {
            "id": "ma-btc",
            "strategy": "ma_crossover",
            "params": {"product_id": "BTC-USD", "order_size": "0.002"},
        },
        {"id": "pairs-eth-btc", "params": {"type": "pairs", "leg1_id": "ETH-USD", "leg2_id": "BTC-USD"}},
    ]
    portfolio.write_text(json.dumps(entries))
    band, ma, pairs = expand_portfolio(portfolio.read_bytes(), base_dir=portfolio.parent)
    assert band.code == StrategyCode(source=SOURCE, filename="strategies/band.py")
    assert isinstance(band.spec.params, PluginParams)
    assert band.spec.params.values["width"] == "2"
    assert (band.spec.kind, band.spec.order_ttl_ms) == ("Band", 2000)
    assert ma.code is None
    assert ma.spec.params == MaCrossoverParams(product_id="BTC-USD", order_size=Decimal("0.002"))
    assert pairs.spec == StrategySpec(
        id="pairs-eth-btc", params=PairsParams(leg1_id="ETH-USD", leg2_id="BTC-USD")
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ("[]", "want a non-empty JSON list"),
        ("[3]", "entry 1: want an object"),
        ('[{"id": "a", "strategy": "nowhere.py:X"}]', "entry 1 (a): no such file: "),
        (
            '[{"id": "a", "strategy": "strategies/band.py:Band", "params": {"width": "x"}}]',
            "entry 1 (a): invalid params: width",
        ),
        ('[{"id": "a", "strategy": 3}]', 'entry 1 (a): want "strategy": REF'),
        (
            '[{"id": "a b", "strategy": "ma_crossover", "params": {"product_id": "X"}}]',
            "entry 1 (a b): id: id must be",
        ),
        (
            '[{"id": "p", "params": {"type": "pairs", "leg1_id": "A"}}]',
            "entry 1 (p): params: Object missing required field `leg2_id`",
        ),
        (
            '[{"id": "m", "strategy": "ma_crossover", "params": {"product_id": "X"}},'
            ' {"id": "m", "strategy": "ma_crossover", "params": {"product_id": "Y"}}]',
            "duplicate ids ['m']",
        ),
    ],
)
def test_a_bad_portfolio_is_refused_naming_the_entry(strategy_file: Path, text: str, message: str) -> None:
    with pytest.raises(StrategyLoadError) as caught:
        expand_portfolio(text.encode(), base_dir=strategy_file.parent.parent)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
