"""The event-driven dual-leg backtest: bars of both legs through any `TwoLegStrategy` on the live
dual-leg machine (the built-in pairs and basis are two such strategies).

Each bar is one tick of both legs' closes, stamped with the bar's time, through the
`TwoLegRunner` the live `TwoLegEngine` holds — so the signal, the state machine's cooldowns, PnL
gate, stop loss and leg sizing on the products' grids are all the service's code. The orders it
emits go to `DualVenue`, which fills them at the next bar's opens (`next-open`) or at this bar's
closes (`close`) and feeds the fills back to the machine.

Orders emitted on the last bar under `next-open` have no next bar and stay unfilled (as a signal on
the last bar does in the MA engine); a position still open at the end is closed at the last closes
with fees and slippage and its trade marked `end_of_data`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import polars as pl

from shared.backtest.dual_types import DualBars, DualConfig, trades_frame
from shared.backtest.dual_venue import DualVenue
from shared.backtest.errors import BacktestError
from shared.backtest.metrics import compute_metrics
from shared.backtest.types import BacktestResult
from shared.messages.products import ProductInfo
from shared.messages.strategy import BasisParams, PairsParams
from shared.sdk.api import TwoLegStrategy
from shared.sdk.twoleg import TwoLegRunner
from shared.strategies import LegSpec, OrderRequest, Quote, State
from shared.strategies.basis_strategy import BasisStrategy
from shared.strategies.pairs_strategy import PairsStrategy

PROGRESS_EVERY = 20_000
MAX_LOGS = 1_000
BACKTEST_ID = "backtest"
_PRICE_GRID = Decimal("0.00000001")


def _decimals(values: np.ndarray) -> list[Decimal]:
    """Exact Decimals of the shortest repr of each float (what was written in the file)."""
    return [Decimal(repr(x)) for x in values.tolist()]


def builtin_strategy(cfg: DualConfig) -> TwoLegStrategy[Any]:
    """The built-in pairs or basis strategy of a `dual_config` run."""
    if isinstance(cfg.params, PairsParams):
        return PairsStrategy(cfg.params)
    if isinstance(cfg.params, BasisParams):
        return BasisStrategy(cfg.params)
    raise BacktestError(f"{cfg.strategy} is not a built-in: run it with run_two_leg_strategy")


def _info(leg: LegSpec) -> ProductInfo:
    """A leg's rules as a product (a backtest has no price grid: a fine one stands in)."""
    return ProductInfo(
        venue=BACKTEST_ID,
        product_id=leg.product_id,
        base_increment=leg.base_increment,
        price_increment=_PRICE_GRID,
        contract_size=leg.contract_size,
    )


def run_dual(
    bars: DualBars,
    cfg: DualConfig,
    on_progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay both legs' bars through the built-in pairs or basis strategy."""
    return run_two_leg_strategy(builtin_strategy(cfg), bars, cfg, on_progress)


def run_two_leg_strategy(
    strategy: TwoLegStrategy[Any],
    bars: DualBars,
    cfg: DualConfig,
    on_progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay both legs' bars through `strategy` on the dual-leg machine and account in Decimal.
    `cfg.params` must be the strategy's params and `cfg.legs` its `legs()`, in order."""
    if cfg.params != strategy.params:
        raise BacktestError("the config's params are not the strategy's")
    if tuple(strategy.legs()) != cfg.products:
        raise BacktestError(f"the strategy trades {tuple(strategy.legs())}, the config gives {cfg.products}")
    logs: list[dict[str, Any]] = []
    runner = TwoLegRunner(
        BACKTEST_ID,
        strategy,
        (_info(cfg.legs[0]), _info(cfg.legs[1])),
        cfg.costs(),
        sink=lambda now_ns, event, fields: logs.append({"time": now_ns, "event": event, **fields}),
    )
    machine = runner.machine
    venue = DualVenue(cfg, machine)
    n = len(bars)
    times = bars.leg1.time.tolist()
    close1, close2 = _decimals(bars.leg1.close), _decimals(bars.leg2.close)
    open1, open2 = _decimals(bars.leg1.open), _decimals(bars.leg2.open)
    next_open = cfg.fill == "next-open"
    pending: tuple[OrderRequest, ...] = ()
    equity: list[Decimal] = []
    held = np.zeros(n, dtype=np.bool_)
    resolved = 0
    for i in range(n):
        t = times[i]
        if pending:
            venue.execute(pending, (open1[i], open2[i]), t)
            pending = ()
        c1, c2 = close1[i], close2[i]
        _, step = runner.on_tick(t, Quote(price=c1, ts_ns=t), Quote(price=c2, ts_ns=t))
        own = runner.take_signal()
        if own is not None:
            logs.append(
                {"time": t, "event": "signal", "action": own.action, "value": own.value, "reason": own.reason}
            )
        venue.note_step(step)
        if step.orders:
            if next_open:
                pending = step.orders
            else:
                venue.execute(step.orders, (c1, c2), t)
        if machine.state is State.RECONCILING:
            # What the live reconciliation does: tell the machine the venue's actual positions.
            machine.resolve(t, venue.pos[0], venue.pos[1], (c1, c2), "backtest")
            resolved += 1
        held[i] = not venue.flat
        equity.append(venue.equity(c1, c2))
        if on_progress is not None and (i + 1) % PROGRESS_EVERY == 0:
            on_progress(i + 1, n)
    if not venue.flat:
        venue.liquidate((close1[-1], close2[-1]), times[-1])
        equity[-1] = venue.cash
    if on_progress is not None:
        on_progress(n, n)
    eq = np.array([float(x) for x in equity], dtype=np.float64)
    pnl = np.array([float(t.pnl) for t in venue.trades], dtype=np.float64)
    curve = pl.DataFrame({"time": bars.leg1.time, "equity": eq, "in_position": held}).with_columns(
        pl.col("time").cast(pl.Datetime("ns", "UTC"))
    )
    extra: dict[str, Any] = {
        "strategy": cfg.strategy,
        "products": list(cfg.products),
        "bars": n,
        "bars_dropped_unaligned": list(bars.dropped),
        "orders_filled": venue.orders_filled,
        "orders_unfilled_at_end": len(pending),
        "realized_pnl_machine": str(machine.st.realized_pnl),
        "machine_state_at_end": machine.state.value,
        "reconciliations": resolved,
    }
    if logs:  # the strategy's own log lines and signals, as plain data (the first MAX_LOGS)
        extra["logs"] = msgspec.to_builtins(logs[:MAX_LOGS], enc_hook=str)
        extra["logs_total"] = len(logs)
    return BacktestResult(
        engine="event",
        config=cfg,
        trades=trades_frame(venue.trades),
        equity=curve,
        metrics=compute_metrics(bars.leg1.time, eq, held, pnl, float(cfg.capital)),
        pair_trades=tuple(venue.trades),
        extra=extra,
    )
