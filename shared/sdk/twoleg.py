"""A `TwoLegStrategy` run by the dual-leg machine: the adapter, its restricted context, its snapshot.

The strategy only decides (`signal`); the machine sizes, sends, hedges, unwinds and closes. So the
context it is handed can read (time, costs, products, prices, positions, the machine's orders) and
publish signals and logs, but every order method raises `TwoLegContextError`: an order sent beside
the machine would break the hedge it keeps. The same `TwoLegRunner` is held by the live engine
(`services.strategy.twoleg_engine`) and the backtest (`shared.backtest.dual`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn

import msgspec

from shared.messages.base import Side
from shared.messages.orders import TimeInForce, client_order_id
from shared.messages.products import ProductInfo
from shared.messages.strategy import SignalAction
from shared.money import round_to_increment
from shared.sdk.api import OrderState, OrderView, TwoLegStrategy
from shared.sdk.state import StateError, dump_state, fingerprint, load_state
from shared.strategies.dual_leg import DualLegMachine, Step
from shared.strategies.dual_leg_state import MachineState, OrderRecord
from shared.strategies.dual_leg_strategy import DualLegStrategy
from shared.strategies.types import CostModel, Decision, Direction, LegSpec, Quote

LogSink = Callable[[int, str, dict[str, Any]], None]
"""Where `ctx.log` lines go: (time of the event in ns, event, fields)."""


class TwoLegSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The machine (always restored: positions, orders, order sequence) and the strategy's own
    state, restored only into the same code and params (`fingerprint`)."""

    machine: MachineState
    state: bytes = b""
    fingerprint: str = ""


class TwoLegContextError(RuntimeError):
    """A `TwoLegStrategy` asked for an order itself."""


def _drop(now_ns: int, event: str, fields: dict[str, Any]) -> None:
    """The default log sink: nowhere."""


class TwoLegContext:
    """The `Context` of a `TwoLegStrategy`: read-only views of the machine, signals and logs."""

    def __init__(
        self, strategy_id: str, infos: tuple[ProductInfo, ProductInfo], machine: DualLegMachine, sink: LogSink
    ) -> None:
        self._sid = strategy_id
        self._infos = {info.product_id: info for info in infos}
        self._legs = (infos[0].product_id, infos[1].product_id)
        self._machine = machine
        self._sink = sink
        self._prices: dict[str, Decimal] = {}
        self.now = 0
        self.warming = False
        self.last_signal: Decision | None = None

    # ---- what the runner sets ----
    def see(self, p1: Decimal, p2: Decimal) -> None:
        """The pair of prices about to be handed to `signal`."""
        self._prices[self._legs[0]], self._prices[self._legs[1]] = p1, p2

    # ---- Context ----
    @property
    def now_ns(self) -> int:
        """The time of the pair being decided on (ns)."""
        return self.now

    @property
    def warming_up(self) -> bool:
        """True while warm-up closes are folded in (the machine does not act on them)."""
        return self.warming

    @property
    def costs(self) -> CostModel:
        """The machine's cost model: the venue's fee tier plus the params' slippage."""
        return self._machine.acct.costs

    def product(self, product_id: str) -> ProductInfo:
        """One leg's trading rules."""
        return self._infos[self._leg(product_id)]

    def price(self, product_id: str) -> Decimal | None:
        """The leg's price last handed to `signal` (a mid live, a close in a backtest)."""
        return self._prices.get(self._leg(product_id))

    def position(self, product_id: str) -> Decimal:
        """The leg's signed position from fills (order units)."""
        return self._machine.positions[self._legs.index(self._leg(product_id))]

    def open_orders(self, product_id: str | None = None) -> tuple[OrderView, ...]:
        """The machine's orders still working, oldest first."""
        wanted = None if product_id is None else self._leg(product_id)
        views = (self._view(rec) for rec in self._machine.st.orders if not rec.settled)
        return tuple(v for v in views if wanted is None or v.product_id == wanted)

    def order(self, order_id: str) -> OrderView | None:
        """One of the machine's recent orders by client order id."""
        for rec in self._machine.st.orders:
            if client_order_id(self._sid, rec.seq, rec.leg) == order_id:
                return self._view(rec)
        return None

    def buy(
        self,
        product_id: str,
        size: Decimal,
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        tag: str = "",
    ) -> OrderView | None:
        """Refused: the machine sends the orders."""
        self._refuse("buy")

    def sell(
        self,
        product_id: str,
        size: Decimal,
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        tag: str = "",
    ) -> OrderView | None:
        """Refused: the machine sends the orders."""
        self._refuse("sell")

    def close(self, product_id: str, *, tag: str = "close") -> OrderView | None:
        """Refused: return Decision(action=EXIT) from `signal`."""
        self._refuse("close")

    def cancel(self, order_id: str) -> bool:
        """Refused: the machine manages its orders."""
        self._refuse("cancel")

    def cancel_all(self, product_id: str | None = None) -> int:
        """Refused: the machine manages its orders."""
        self._refuse("cancel_all")

    def replace(
        self, order_id: str, *, limit: Decimal | None = None, size: Decimal | None = None
    ) -> OrderView | None:
        """Refused: the machine manages its orders."""
        self._refuse("replace")

    def exits(
        self, product_id: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> None:
        """Refused: the machine's stop loss is `TwoLegParams.stop_loss_bps`."""
        self._refuse("exits")

    def round_price(self, product_id: str, price: Decimal, side: Side) -> Decimal:
        """`price` on the leg's grid, on the passive side."""
        mode = "down" if side is Side.BUY else "up"
        return round_to_increment(price, self.product(product_id).price_increment, mode=mode)

    def signal(self, action: SignalAction, *, value: float = 0.0, reason: str = "") -> None:
        """Published when the machine's own decision on this pair is a hold."""
        self.last_signal = Decision(action=action, value=value, reason=reason)

    def log(self, event: str, **fields: Any) -> None:
        """A structured log line."""
        self._sink(self.now, event, fields)

    # ---- helpers ----
    def _leg(self, product_id: str) -> str:
        if product_id not in self._infos:
            raise ValueError(f"{product_id} is not a leg of this strategy ({', '.join(self._legs)})")
        return product_id

    def _refuse(self, what: str) -> NoReturn:
        raise TwoLegContextError(
            f"ctx.{what}() is not available to a TwoLegStrategy: it trades through signal() "
            "(ENTER_LONG, ENTER_SHORT, EXIT) and the dual-leg machine sends the orders"
        )

    def _view(self, rec: OrderRecord) -> OrderView:
        if not rec.settled:
            state = OrderState.PARTIALLY_FILLED if rec.filled else OrderState.SENT
        else:
            state = OrderState.FILLED if rec.filled >= rec.size else OrderState.EXPIRED
        return OrderView(
            id=client_order_id(self._sid, rec.seq, rec.leg),
            product_id=self._legs[rec.leg - 1],
            side=rec.side,
            size=rec.size,
            limit_price=None,
            time_in_force=TimeInForce.IOC,
            post_only=False,
            state=state,
            filled=rec.filled,
            average_price=None,
            tag=rec.purpose.value,
        )


class TwoLegSignal:
    """The adapter: a `TwoLegStrategy` as the machine's signal core."""

    def __init__(self, strategy: TwoLegStrategy[Any], ctx: TwoLegContext) -> None:
        self.strategy = strategy
        self.ctx = ctx

    def update(self, p1: Decimal, p2: Decimal, held: Direction | None = None) -> Decision:
        """Hand the pair to `signal`; its answer must be a `Decision`."""
        self.ctx.see(p1, p2)
        decision = self.strategy.signal(p1, p2, held, self.ctx)
        if not isinstance(decision, Decision):
            name = type(self.strategy).__name__
            raise TypeError(f"{name}.signal() returned {type(decision).__name__}, not a Decision")
        return decision


class TwoLegRunner:
    """One `TwoLegStrategy` on its dual-leg machine. Restoring from a snapshot always keeps the
    machine; the strategy's attributes come back only under the same fingerprint (`restored_warm`),
    else the strategy starts fresh and warms up again."""

    def __init__(
        self,
        strategy_id: str,
        strategy: TwoLegStrategy[Any],
        infos: tuple[ProductInfo, ProductInfo],
        costs: CostModel,
        snap: TwoLegSnapshot | None = None,
        *,
        next_seq: int = 1,
        sink: LogSink = _drop,
    ) -> None:
        legs = tuple(strategy.legs())
        if len(legs) != 2 or legs[0] == legs[1]:
            raise ValueError(f"{type(strategy).__name__}.legs() must give two different products, got {legs}")
        if legs != (infos[0].product_id, infos[1].product_id):
            raise ValueError(f"legs {legs} do not match the products' rules given for them")
        match = strategy.hedge
        if match not in ("notional", "base"):
            raise ValueError(f"{type(strategy).__name__}.hedge must be 'notional' or 'base', got {match!r}")
        self.strategy = strategy
        self.products: tuple[str, str] = (legs[0], legs[1])
        self.fingerprint = fingerprint(type(strategy), strategy.params)
        state = snap.machine if snap is not None else MachineState(next_seq=next_seq)
        specs = (LegSpec.of(infos[0]), LegSpec.of(infos[1]))
        self.machine = DualLegMachine.restore(strategy.params, specs, costs, state, match=match)
        self.ctx = TwoLegContext(strategy_id, infos, self.machine, sink)
        self.dual = DualLegStrategy(TwoLegSignal(strategy, self.ctx), self.machine)
        self.restored_warm = False
        if snap is not None and snap.state and snap.fingerprint == self.fingerprint:
            try:
                load_state(strategy, snap.state)
                self.restored_warm = True
            except StateError as exc:
                sink(0, "strategy_state_dropped", {"error": str(exc)})

    def on_tick(self, now_ns: int, q1: Quote, q2: Quote) -> tuple[Decision, Step]:
        """One synchronised pair of quotes through the signal and the machine."""
        self.ctx.now = now_ns
        return self.dual.on_tick(now_ns, q1, q2)

    def warm(self, now_ns: int, p1: Decimal, p2: Decimal) -> Decision:
        """One pair of historical closes through `signal` with `warming_up`; nothing is traded."""
        ctx = self.ctx
        ctx.now, ctx.warming = now_ns, True
        try:
            return self.dual.core.update(p1, p2, self.machine.direction)
        finally:
            ctx.warming, ctx.last_signal = False, None

    def take_signal(self) -> Decision | None:
        """The strategy's last `ctx.signal` since the previous call."""
        signal, self.ctx.last_signal = self.ctx.last_signal, None
        return signal

    def set_costs(self, costs: CostModel) -> None:
        """A new fee tier for the machine (and `ctx.costs`)."""
        self.dual.set_costs(costs)

    def snapshot(self) -> TwoLegSnapshot:
        """Machine and strategy state, for the KV snapshot bucket."""
        return TwoLegSnapshot(
            machine=self.machine.snapshot(), state=dump_state(self.strategy), fingerprint=self.fingerprint
        )
