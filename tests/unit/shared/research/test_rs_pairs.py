"""Pair discovery: finds cointegrated pairs (synthetic and the simulator's), rejects independent
walks, and writes a file that decodes as the portfolio's `list[StrategySpec]`."""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import msgspec
import numpy as np
import polars as pl
import pytest

from shared.backtest.errors import DataError
from shared.messages.strategy import PairsParams, StrategySpec
from shared.research.loading import load_log_prices
from shared.research.pairs import (
    PairStats,
    encode_specs,
    half_life,
    hedge_ols,
    scan_pairs,
    select,
    spec_id,
    suggested_window,
    to_specs,
)


def _walk(rng: np.random.Generator, n: int, start: float) -> np.ndarray:
    return start + np.cumsum(rng.normal(0.0, 0.01, n))


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    out = np.zeros(n)
    noise = rng.normal(0.0, sigma, n)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out


def _market(seed: int = 1, n: int = 1500) -> dict[str, np.ndarray]:
    """B = 0.8·A + AR(1) spread (φ = 0.9); C and D are independent walks."""
    rng = np.random.default_rng(seed)
    a = _walk(rng, n, 5.0)
    return {
        "A-USD": a,
        "B-USD": 0.8 * a + 1.0 + _ar1(rng, n, 0.9, 0.005),
        "C-USD": _walk(rng, n, 3.0),
        "D-USD": _walk(rng, n, 4.0),
    }


@functools.cache
def _scanned() -> tuple[PairStats, ...]:
    """The default market's scan, shared by the tests that only read it (the scan is the slow part)."""
    return tuple(scan_pairs(_market()))


def test_finds_the_cointegrated_pair() -> None:
    chosen = select(_scanned())
    assert [(s.leg1, s.leg2) for s in chosen] == [("B-USD", "A-USD")]
    (pair,) = chosen
    assert pair.hedge_ratio == pytest.approx(0.8, abs=0.03)
    assert pair.p_value < 1e-6
    assert pair.half_life_bars == pytest.approx(math.log(2) / -math.log(0.9), rel=0.3)
    assert pair.correlation > 0.95


def test_rejects_independent_random_walks() -> None:
    """At the default 5 % level, with the p-value of the weaker direction, false positives are rare."""
    passed = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        walks = {"X-USD": _walk(rng, 1000, 4.0), "Y-USD": _walk(rng, 1000, 4.0)}
        passed += len(select(scan_pairs(walks)))
    assert passed <= 1


def test_finds_the_simulators_pairs() -> None:
    """In the exchange simulator ETH follows BTC and SOL follows ETH through mean-reverting spreads
    (so BTC/SOL is cointegrated too); LTC and DOGE walk freely. Four hours of 5-second closes."""
    sim = pytest.importorskip("services.exchange_sim.market_model")
    from shared.venue.products import default_products

    products = [p for p in default_products(1_764_000_000 * 10**9) if not p.is_future]
    model = sim.MarketModel(products, seed=11)
    rows = [model.step() for _ in range(57_600)][::20]
    logs = {pid: np.log(np.array([r[pid] for r in rows])) for pid in rows[0]}
    chosen = select(scan_pairs(logs), max_p_value=0.01)
    expected = (("ETH-USD", "SOL-USD"), ("BTC-USD", "ETH-USD"), ("BTC-USD", "SOL-USD"))
    assert {frozenset((c.leg1, c.leg2)) for c in chosen} == {frozenset(p) for p in expected}
    assert all(c.hedge_ratio == pytest.approx(1.0, abs=0.1) for c in chosen)


def test_spec_file_round_trips_as_the_portfolio_config(tmp_path: Path) -> None:
    specs = to_specs(select(_scanned()), entry_z=2.5, exit_z=0.25)
    path = tmp_path / "pairs.json"
    path.write_bytes(encode_specs(specs))
    raw = path.read_bytes()
    decoded = msgspec.json.decode(raw, type=list[StrategySpec])
    assert decoded == specs
    (spec,) = decoded
    assert isinstance(spec.params, PairsParams)
    assert (spec.params.leg1_id, spec.params.leg2_id) == ("B-USD", "A-USD")
    assert (spec.params.entry_z, spec.params.exit_z) == (2.5, 0.25)
    assert spec.kind == "pairs"
    assert msgspec.json.decode(raw)[0]["params"]["type"] == "pairs"


def test_window_override_and_suggestion() -> None:
    (pair,) = select(_scanned())
    assert to_specs([pair], window=77)[0].params.window == 77  # type: ignore[union-attr]
    assert suggested_window(pair) == math.ceil(4 * (pair.half_life_bars or 0))
    assert suggested_window(dataclasses.replace(pair, half_life_bars=2.0)) == 20  # floor
    assert suggested_window(dataclasses.replace(pair, half_life_bars=None)) == 1000  # ceiling


def test_spec_ids_are_valid_for_any_product_name() -> None:
    (pair,) = select(_scanned())
    odd = dataclasses.replace(pair, leg1="BTC/USD:PERP", leg2="X" * 80)
    ident = spec_id(odd)
    assert len(ident) <= 64
    StrategySpec(id=ident, params=PairsParams(leg1_id="a", leg2_id="b"))  # validates the id
    twin = dataclasses.replace(odd, leg2="X" * 80 + "Y")  # same id once truncated to 64
    ids = [spec.id for spec in to_specs([odd, twin])]
    assert len(set(ids)) == 2
    assert all(len(i) <= 64 for i in ids)


def test_half_life_and_hedge_ratio_by_hand() -> None:
    assert hedge_ols(np.array([1.0, 3.0, 5.0]), np.array([0.0, 1.0, 2.0])) == pytest.approx((2.0, 1.0))
    assert half_life(np.array([8.0, 4.0, 2.0, 1.0, 0.5])) == pytest.approx(1.0)  # halves every bar
    assert half_life(np.cumsum(np.ones(50))) is None  # a trend does not revert


def test_loading_long_table_and_directory(tmp_path: Path) -> None:
    market = _market(n=200)
    times = pl.datetime_range(
        pl.datetime(2025, 1, 1, time_zone="UTC"),
        pl.datetime(2025, 1, 9, 7, time_zone="UTC"),
        "1h",
        eager=True,
    )
    long = pl.concat(
        pl.DataFrame({"time": times, "product_id": pid, "close": np.exp(v)}) for pid, v in market.items()
    )
    long.write_csv(tmp_path / "all.csv")
    logs, n = load_log_prices(tmp_path / "all.csv")
    assert n == 200
    assert np.allclose(logs["B-USD"], market["B-USD"])
    folder = tmp_path / "dir"
    folder.mkdir()
    for pid, v in market.items():
        pl.DataFrame({"time": times, "close": np.exp(v)}).slice(1 if pid == "C-USD" else 0).write_parquet(
            folder / f"{pid}.parquet"
        )
    logs, n = load_log_prices(folder, ["A-USD", "C-USD"])
    assert (sorted(logs), n) == (["A-USD", "C-USD"], 199)  # aligned on the common times


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"time": [1, 2], "close": [1.0, 2.0]}), "missing column(s): product_id"),
        (
            pl.DataFrame({"time": [1, 2], "product_id": ["A", "B"], "close": [1.0, -2.0]}),
            "non-positive close",
        ),
        (pl.DataFrame({"time": [1, 1], "product_id": ["A", "A"], "close": [1.0, 2.0]}), "duplicate time"),
        (
            pl.DataFrame({"time": [1, 2], "product_id": ["A", "A"], "close": [1.0, 2.0]}),
            "at least two products",
        ),
    ],
)
def test_loading_errors(tmp_path: Path, frame: pl.DataFrame, message: str) -> None:
    frame.write_parquet(tmp_path / "c.parquet")
    with pytest.raises(DataError) as info:
        load_log_prices(tmp_path / "c.parquet")
    assert message in str(info.value)


def test_loading_unknown_product(tmp_path: Path) -> None:
    pl.DataFrame(
        {"time": [1, 2, 1, 2], "product_id": ["A", "A", "B", "B"], "close": [1.0, 2, 3, 4]}
    ).write_csv(tmp_path / "c.csv")
    with pytest.raises(DataError, match="no data for product"):
        load_log_prices(tmp_path / "c.csv", ["A", "Z"])
