"""The fill model both engines share, written once per number type so they cannot drift apart.

Slippage moves the price against us (buys higher, sells lower); the fee is charged on the filled
notional. All-in sizing buys as many units as cash covers *including* the entry fee, so cash ends
at (about) zero and never goes negative.
"""

from __future__ import annotations

from decimal import Decimal

from shared.backtest.types import BacktestConfig

BPS = Decimal(10_000)


def rates(cfg: BacktestConfig) -> tuple[Decimal, Decimal]:
    """(fee rate, slippage rate) as fractions."""
    return cfg.fee_bps / BPS, cfg.slippage_bps / BPS


def buy_size(cash: Decimal, price: Decimal, fee: Decimal, fixed: Decimal | None) -> Decimal | None:
    """Units to buy at `price` (already slipped), or None when cash cannot cover a fixed size."""
    if fixed is None:
        return cash / (price * (1 + fee))
    return fixed if fixed * price * (1 + fee) <= cash else None


def buy_size_f(cash: float, price: float, fee: float, fixed: float | None) -> float | None:
    """Float twin of `buy_size` for the vectorised engine."""
    if fixed is None:
        return cash / (price * (1.0 + fee))
    return fixed if fixed * price * (1.0 + fee) <= cash else None
