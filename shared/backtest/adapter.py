"""The seam between the event-driven engine and the live MA-crossover core.

The engine replays bars through `shared.strategies.MaCrossover`, unchanged, so a backtest runs the
exact signal code the strategy service runs. Only two things are added around it, both outside
the core: the optional strict tie rule, and syncing the core's position flag when a simulated
entry could not be filled (the live service does the same from order events).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Protocol

from shared.backtest.types import TIE_TOLERANCE, BacktestConfig, Cross
from shared.messages.strategy import MaCrossoverParams, SignalAction
from shared.strategies import MaCrossover

Signal = Literal["buy", "sell"] | None


class CoreDecision(Protocol):
    """What the engine reads from a core's decision."""

    @property
    def action(self) -> SignalAction: ...

    @property
    def value(self) -> float: ...

    @property
    def reason(self) -> str: ...


class CoreState(Protocol):
    """The part of a core snapshot the strict rule needs: the averages of the last bar."""

    @property
    def prev_short(self) -> float | None: ...

    @property
    def prev_long(self) -> float | None: ...


class SignalCore(Protocol):
    """A bar-by-bar MA crossover core (the shared one satisfies this as is)."""

    def on_bar(self, start: int, close: Decimal) -> CoreDecision: ...

    def set_position(self, open_: bool) -> None: ...

    def snapshot(self) -> CoreState: ...


def make_core(cfg: BacktestConfig) -> SignalCore:
    """The live service's MA crossover core, configured from the backtest config."""
    params = MaCrossoverParams(
        product_id="BACKTEST",
        short_window=cfg.short,
        long_window=cfg.long,
        average=cfg.average,
        cross=cfg.cross,
    )
    return MaCrossover(params)


class SignalStream:
    """Feeds bars to a core and yields "buy" / "sell" / None, applying the chosen tie rule.

    The shared core applies the rule itself (`MaCrossoverParams.cross`, with ties within
    `TIE_TOLERANCE × price`), so for it this re-check never vetoes anything. It stays so that any
    other core with the same interface is held to the same strict rule: a signal passes only when
    the previous difference was clearly on the other side and the current one clearly across;
    otherwise it is vetoed and the core's position flag put back.

    The previous difference comes from the core's own numbers: its decision's `value` (short −
    long), or its snapshot while it is warming up (its decision carries no value then).
    """

    def __init__(self, core: SignalCore, cross: Cross) -> None:
        self.core = core
        self._strict = cross == "strict"
        self._prev_diff: float | None = None
        self._prev_tol = 0.0

    def step(self, start: int, close: Decimal) -> Signal:
        """Fold in one bar and return the signal, if any."""
        decision = self.core.on_bar(start, close)
        prev, prev_tol = self._prev_diff, self._prev_tol
        tol = self._prev_tol = TIE_TOLERANCE * float(close)
        if decision.reason == "warming_up":
            snap = self.core.snapshot()
            ready = snap.prev_short is not None and snap.prev_long is not None
            self._prev_diff = snap.prev_short - snap.prev_long if ready else None  # type: ignore[operator]
            return None
        value = self._prev_diff = decision.value
        if decision.action is SignalAction.BUY:
            if self._strict and not (prev is not None and prev < -prev_tol and value > tol):
                self.core.set_position(False)
                return None
            return "buy"
        if decision.action is SignalAction.SELL:
            if self._strict and not (prev is not None and prev > prev_tol and value < -tol):
                self.core.set_position(True)
                return None
            return "sell"
        return None

    def reject_entry(self) -> None:
        """An entry signal could not be filled (not enough cash): the core is flat again."""
        self.core.set_position(False)
