"""Value types of the SDK backtest: its config (fees, grids, fill) and its result.

Kept apart from the loop so reports and the CLI can name them without importing the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.backtest.errors import BacktestError
from shared.backtest.sdk_trades import SdkTrade
from shared.backtest.types import BacktestResult, Fill
from shared.messages.products import ProductInfo
from shared.strategies.types import CostModel

VENUE = "backtest"


class StrategyFailed(BacktestError):
    """The strategy raised while handling an event (or its state cannot be saved)."""


@dataclass(frozen=True)
class SdkConfig:
    """An SDK backtest. `fee_bps` is the taker fee, `maker_fee_bps` the maker fee of resting limit
    fills; every product trades on one grid (`base_increment`, `price_increment`) of `contract_size`
    base units per order unit (a backtest has no venue catalogue)."""

    strategy: str = ""
    """What ran (a reference or class name), for reports."""
    fill: Fill = "next-open"
    fee_bps: Decimal = Decimal(0)
    maker_fee_bps: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    capital: Decimal = Decimal(10_000)
    base_increment: Decimal = Decimal("0.00000001")
    price_increment: Decimal = Decimal("0.01")
    contract_size: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        for name, value in (
            ("--fee-bps", self.fee_bps),
            ("--maker-fee-bps", self.maker_fee_bps),
            ("--slippage-bps", self.slippage_bps),
        ):
            if not value.is_finite() or not Decimal(0) <= value < Decimal(10_000):
                raise BacktestError(f"{name} must be in [0, 10000)")
        if not self.capital.is_finite() or self.capital <= 0:
            raise BacktestError("--capital must be a positive number")
        for name, value in (
            ("--base-increment", self.base_increment),
            ("--price-increment", self.price_increment),
            ("--contract-size", self.contract_size),
        ):
            if not value.is_finite() or value <= 0:
                raise BacktestError(f"{name} must be a positive number")

    def info(self, product_id: str) -> ProductInfo:
        """The trading rules the runner sizes and prices this product's orders by."""
        return ProductInfo(
            venue=VENUE,
            product_id=product_id,
            base_increment=self.base_increment,
            price_increment=self.price_increment,
            contract_size=self.contract_size,
        )

    def costs(self) -> CostModel:
        """What `ctx.costs` shows the strategy."""
        return CostModel(taker_bps=self.fee_bps, maker_bps=self.maker_fee_bps, slippage_bps=self.slippage_bps)

    def describe(self) -> str:
        """One line for tables and chart titles."""
        return f"{self.strategy or 'strategy'}, fill {self.fill}"


@dataclass(frozen=True)
class SdkResult(BacktestResult):
    """A `BacktestResult` (reports, charts and files work unchanged) with the exact round trips and
    the strategy's log lines."""

    sdk_trades: tuple[SdkTrade, ...] = field(default=())
    logs: tuple[dict[str, Any], ...] = field(default=())
