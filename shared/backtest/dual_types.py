"""Value types of the dual-leg backtest (pairs, basis, any `TwoLegStrategy`): config, aligned bars,
pair trades.

The strategy parameters are the live service's own params (`PairsParams`, `BasisParams`, a
plug-in's `TwoLegParams`), not a copy, so a backtest is configured exactly like a strategy
instance; the backtest adds only what a live instance gets from the venue (legs' grids, fees) and
from the account (capital).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import msgspec
import polars as pl

from shared.backtest.errors import BacktestError
from shared.backtest.types import Bars, Fill
from shared.messages.strategy import BasisParams, DualLegParams, PairsParams
from shared.strategies import CostModel, LegSpec

DualKind = Literal["pairs", "basis"]
ExitReason = Literal["signal", "stop_loss", "end_of_data"]


@dataclass(frozen=True)
class DualConfig:
    """A dual-leg run. `fee_bps` is the taker fee every simulated fill pays (and the cost model the
    cores see, via `costs`): one flat assumption from the command line, not a venue's `FeeRates`
    tier, so a plain number. `slippage_bps` moves each fill against us and is also the params'."""

    params: DualLegParams
    legs: tuple[LegSpec, LegSpec]
    fill: Fill = "next-open"
    fee_bps: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    capital: Decimal = Decimal(10_000)
    name: str = ""
    """A plug-in's name (its reference) for reports; '' for the built-in pairs and basis."""

    def __post_init__(self) -> None:
        for name, value in (("--fee-bps", self.fee_bps), ("--slippage-bps", self.slippage_bps)):
            if not value.is_finite() or not Decimal(0) <= value < Decimal(10_000):
                raise BacktestError(f"{name} must be in [0, 10000)")
        if not self.capital.is_finite() or self.capital <= 0:
            raise BacktestError("--capital must be a positive number")

    @property
    def strategy(self) -> str:
        """ "pairs", "basis" or the plug-in's name."""
        if self.name:
            return self.name
        if isinstance(self.params, PairsParams):
            return "pairs"
        return "basis" if isinstance(self.params, BasisParams) else type(self.params).__name__

    @property
    def products(self) -> tuple[str, str]:
        """Leg 1 and leg 2 product ids (spot first for basis)."""
        return self.legs[0].product_id, self.legs[1].product_id

    def costs(self) -> CostModel:
        """The cost model the live service would build: current taker fee plus the params' slippage."""
        return CostModel(taker_bps=self.fee_bps, slippage_bps=self.params.slippage_bps)

    def describe(self) -> str:
        """One line for tables and chart titles."""
        p = self.params
        a, b = self.products
        if not self.name and isinstance(p, PairsParams):
            return (
                f"pairs {a}/{b} window {p.window} z {p.entry_z}/{p.exit_z} {p.hedge_ratio}, fill {self.fill}"
            )
        if not self.name and isinstance(p, BasisParams):
            return f"basis {a}/{b} entry {p.entry_bps} exit {p.exit_bps} bps, fill {self.fill}"
        return f"{self.strategy} {a}/{b}, fill {self.fill}"

    def as_dict(self) -> dict[str, Any]:
        """Plain data (Decimals as exact strings) for the JSON output and summary files."""
        return {
            "strategy": self.strategy,
            "params": msgspec.to_builtins(self.params),
            "legs": msgspec.to_builtins(self.legs),
            "fill": self.fill,
            "fee_bps": str(self.fee_bps),
            "slippage_bps": str(self.slippage_bps),
            "capital": str(self.capital),
        }


def dual_config(
    kind: DualKind,
    legs: tuple[LegSpec, LegSpec],
    params: dict[str, Any],
    *,
    fill: Fill = "next-open",
    fee_bps: Decimal = Decimal(0),
    slippage_bps: Decimal = Decimal(0),
    capital: Decimal = Decimal(10_000),
) -> DualConfig:
    """Build the live params from keyword values (their own validation, reported as a
    `BacktestError`), with the product ids and slippage taken from the legs and the fill model."""
    ids: dict[str, Any] = (
        {"leg1_id": legs[0].product_id, "leg2_id": legs[1].product_id}
        if kind == "pairs"
        else {"spot_id": legs[0].product_id, "future_id": legs[1].product_id}
    )
    cls = PairsParams if kind == "pairs" else BasisParams
    try:
        built = cls(**ids, **params, slippage_bps=slippage_bps)
    except (ValueError, TypeError) as exc:
        raise BacktestError(f"invalid {kind} parameters: {exc}") from exc
    return DualConfig(built, legs, fill=fill, fee_bps=fee_bps, slippage_bps=slippage_bps, capital=capital)


@dataclass(frozen=True)
class DualBars:
    """Both legs' bars on the same times (only times both products have); `dropped` counts the bars
    of each leg that had no partner and were left out."""

    leg1: Bars
    leg2: Bars
    dropped: tuple[int, int] = (0, 0)

    def __len__(self) -> int:
        return len(self.leg1)


@dataclass(frozen=True)
class LegTrade:
    """One leg of a pair trade. `size` is in order units (whole contracts for a future); prices are
    volume-weighted over the leg's opening and closing fills, slippage included."""

    product_id: str
    side: Literal["buy", "sell"]
    size: Decimal
    entry_price: Decimal
    exit_price: Decimal
    fees: Decimal
    pnl: Decimal


@dataclass(frozen=True)
class PairTrade:
    """One round trip of a dual-leg position, Flat to Flat. `pnl` is both legs together, net of
    every fee; `direction` is +1 (long leg 1 / short leg 2) or -1."""

    entry_time: int
    exit_time: int
    direction: int
    legs: tuple[LegTrade, LegTrade]
    exit_reason: ExitReason

    @property
    def pnl(self) -> Decimal:
        """Combined PnL of both legs, fees included."""
        return self.legs[0].pnl + self.legs[1].pnl

    @property
    def fees(self) -> Decimal:
        """Fees of both legs, entry and exit."""
        return self.legs[0].fees + self.legs[1].fees


DUAL_TRADE_SCHEMA: dict[str, type[pl.DataType] | pl.DataType] = {
    "entry_time": pl.Datetime("ns", "UTC"),
    "exit_time": pl.Datetime("ns", "UTC"),
    "entry_price": pl.Float64,
    "exit_price": pl.Float64,
    "size": pl.Float64,
    "fees": pl.Float64,
    "pnl": pl.Float64,
    "exit_reason": pl.String,
    "direction": pl.String,
    **{
        f"leg{k}_{name}": dtype
        for k in (1, 2)
        for name, dtype in (
            ("product_id", pl.String),
            ("side", pl.String),
            ("size", pl.Float64),
            ("entry_price", pl.Float64),
            ("exit_price", pl.Float64),
            ("fees", pl.Float64),
            ("pnl", pl.Float64),
        )
    },
}


def trades_frame(trades: list[PairTrade]) -> pl.DataFrame:
    """Pair trades as a float frame: the common trade columns describe leg 1 (prices, size) and the
    combined PnL and fees; `legN_*` columns carry each leg's detail."""
    rows: list[dict[str, Any]] = []
    for t in trades:
        row: dict[str, Any] = {
            "entry_time": t.entry_time,
            "exit_time": t.exit_time,
            "entry_price": float(t.legs[0].entry_price),
            "exit_price": float(t.legs[0].exit_price),
            "size": float(t.legs[0].size),
            "fees": float(t.fees),
            "pnl": float(t.pnl),
            "exit_reason": t.exit_reason,
            "direction": "long" if t.direction > 0 else "short",
        }
        for k, leg in enumerate(t.legs, start=1):
            row.update(
                {
                    f"leg{k}_product_id": leg.product_id,
                    f"leg{k}_side": leg.side,
                    f"leg{k}_size": float(leg.size),
                    f"leg{k}_entry_price": float(leg.entry_price),
                    f"leg{k}_exit_price": float(leg.exit_price),
                    f"leg{k}_fees": float(leg.fees),
                    f"leg{k}_pnl": float(leg.pnl),
                }
            )
        rows.append(row)
    raw_schema = {k: (pl.Int64 if k.endswith("_time") else v) for k, v in DUAL_TRADE_SCHEMA.items()}
    frame = pl.DataFrame(rows, schema=raw_schema)
    return frame.cast(DUAL_TRADE_SCHEMA)  # type: ignore[arg-type]
