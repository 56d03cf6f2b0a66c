"""Where a backtest's bars come from, and the legs of a dual-leg run, decided from CLI values.

Kept out of the CLI module so the rules (exactly one data source; REST options only with a range;
which product options each strategy takes) are plain functions that raise `BacktestError` and can
be tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl

from shared.backtest.errors import BacktestError
from shared.backtest.rest_candles import (
    DEFAULT_HOST,
    CandleQuery,
    Fetched,
    RestSource,
    fetch_candles,
    parse_time,
)
from shared.config import CoinbaseCredentials
from shared.strategies import LegSpec


@dataclass(frozen=True)
class Source:
    """Files, REST candles (`rest` and the range are set) or synthetic bars."""

    data: list[Path]
    synthetic: bool
    rest: RestSource | None = None
    start: int = 0
    end: int = 0
    granularity: int = 60


def resolve_source(
    data: list[Path],
    synthetic: bool,
    start: str | None,
    end: str | None,
    granularity: int,
    rest_host: str | None,
    ca_file: Path | None,
    cache_dir: Path,
) -> Source:
    """Exactly one data source; keys from the environment for REST (public candles without)."""
    fetch = start is not None or end is not None
    if sum((bool(data), synthetic, fetch)) > 1:
        raise BacktestError("give one of --data FILE, --synthetic or --start/--end (REST candles), not both")
    if not data and not synthetic and not fetch:
        raise BacktestError(
            "give --data FILE (CSV or Parquet), --synthetic, or --start/--end to fetch candles"
        )
    if not fetch:
        if rest_host is not None or ca_file is not None:
            raise BacktestError("--rest-host and --ca-file only apply with --start/--end")
        return Source(data, synthetic)
    if start is None or end is None:
        raise BacktestError("REST candles need both --start and --end")
    if ca_file is not None and not ca_file.is_file():
        raise BacktestError(f"--ca-file {ca_file}: no such file")
    rest = RestSource(
        host=rest_host or DEFAULT_HOST,
        cache_dir=cache_dir,
        ca_file=ca_file,
        credentials=CoinbaseCredentials.from_environment(),
    )
    lo, hi = parse_time(start, "--start"), parse_time(end, "--end")
    CandleQuery("check", lo, hi, granularity)  # validates the range and granularity up front
    return Source([], False, rest, lo, hi, granularity)


def fetch_frames(
    src: Source, products: tuple[str, ...], on_fetched: Callable[[str, Fetched], None] | None = None
) -> list[pl.DataFrame]:
    """Each product's candles (REST or cache), one long frame per product."""
    if src.rest is None:
        raise BacktestError("no REST source configured")
    frames = []
    for product in products:
        got = fetch_candles(CandleQuery(product, src.start, src.end, src.granularity), src.rest)
        if on_fetched is not None:
            on_fetched(product, got)
        frames.append(got.frame)
    return frames


def leg_ids(
    strategy: str, symbols: str | None, spot_id: str | None, future_id: str | None
) -> tuple[str, str]:
    """Leg 1 and leg 2 product ids from --symbols (pairs) or --spot-id/--future-id (basis)."""
    if strategy == "pairs":
        if spot_id or future_id:
            raise BacktestError("pairs takes --symbols A,B (--spot-id/--future-id are for basis)")
        parts = [p.strip() for p in (symbols or "").split(",")]
        if len(parts) != 2 or not all(parts):
            raise BacktestError("pairs needs --symbols A,B (two product ids)")
        return parts[0], parts[1]
    if symbols:
        raise BacktestError("basis takes --spot-id and --future-id (--symbols is for pairs)")
    if not spot_id or not future_id:
        raise BacktestError("basis needs --spot-id and --future-id")
    return spot_id, future_id


def dual_legs(
    strategy: str,
    products: tuple[str, str],
    base_increment: Decimal,
    contract_size: Decimal,
    future_increment: Decimal,
) -> tuple[LegSpec, LegSpec]:
    """Both legs' grids: spot legs on `base_increment`; a basis future in contracts of
    `contract_size` base units, sized on `future_increment` (whole contracts by default)."""
    if base_increment <= 0:
        raise BacktestError("--base-increment must be positive")
    leg1 = LegSpec(product_id=products[0], base_increment=base_increment)
    if strategy == "pairs":
        return leg1, LegSpec(product_id=products[1], base_increment=base_increment)
    if contract_size <= 0 or future_increment <= 0:
        raise BacktestError("--contract-size and --future-increment must be positive")
    return leg1, LegSpec(product_id=products[1], base_increment=future_increment, contract_size=contract_size)
