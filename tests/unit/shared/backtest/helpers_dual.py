"""Hand-built two-leg bars and configs for the pairs and basis backtest tests."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal as D
from typing import Any

from shared.backtest.dual_types import DualBars, DualConfig, DualKind, dual_config
from shared.strategies import LegSpec
from tests.unit.shared.backtest.helpers import make_bars

SPOT = LegSpec(product_id="BTC-USD", base_increment=D("0.00000001"))
NANO = LegSpec(product_id="BIP-20DEC30-CDE", base_increment=D(1), contract_size=D("0.01"))
LEG_A = LegSpec(product_id="A-USD", base_increment=D("0.0001"))
LEG_B = LegSpec(product_id="B-USD", base_increment=D("0.0001"))

# Pairs, fixed β = 1, window 5: four equal spreads then one outlier give z = ±2 exactly.
# Bar 5: A drops to 90 → z = -2 → enter long the spread; bar 6: back to 100 → |z| = 0.5 → exit.
PAIRS_A = [100, 100, 100, 100, 100, 90, 100, 100, 100]
PAIRS_B = [100] * 9

# Basis, fee 5 bps → round trip 20 bps: bar 1 gross 50 bps (net 30 > entry 10) → enter;
# bar 3 gross 10 bps (net -10 < exit 2) → exit.
BASIS_SPOT = [50_000] * 6
BASIS_FUT = [50_100, 50_250, 50_250, 50_050, 50_050, 50_050]


def dual_bars(a: Sequence[float], b: Sequence[float]) -> DualBars:
    """Both legs one minute apart, each bar opening at the previous close."""
    return DualBars(make_bars(a), make_bars(b))


def cfg(kind: DualKind, legs: tuple[LegSpec, LegSpec], **kw: Any) -> DualConfig:
    """A config with zero cooldowns (minute bars) and the given overrides."""
    run = {k: kw.pop(k) for k in ("fill", "fee_bps", "slippage_bps", "capital") if k in kw}
    params: dict[str, Any] = {"entry_cooldown_ms": 0, "exit_cooldown_ms": 0}
    if kind == "pairs":
        params.update(window=5, entry_z=1.9, exit_z=1.0, hedge_ratio="fixed", notional=D(1000))
    else:
        params.update(notional=D(5000), entry_bps=D(10), exit_bps=D(2))
    params.update(kw)
    return dual_config(kind, legs, params, **run)


def cointegrated(n: int, seed: int = 1) -> DualBars:
    """A seeded pair: ln y = 0.8 ln x + an AR(1) spread, prices on a 0.01 tick, minute bars."""
    import numpy as np

    from shared.backtest.types import Bars

    rng = np.random.default_rng(seed)
    x = np.log(100) + np.cumsum(rng.normal(0, 0.002, n))
    spread = np.zeros(n)
    shocks = rng.normal(0, 0.003, n)
    for i in range(1, n):
        spread[i] = 0.9 * spread[i - 1] + shocks[i]
    y = 0.8 * x + spread + 1.0
    time = 1_735_689_600_000_000_000 + np.arange(n, dtype=np.int64) * 60_000_000_000

    def bars(log_price: np.ndarray) -> Bars:
        close = np.round(np.exp(log_price), 2)
        open_ = np.concatenate([[close[0]], close[:-1]])
        return Bars(time, open_, np.maximum(open_, close), np.minimum(open_, close), close)

    return DualBars(bars(y), bars(x))
