"""Test helpers for the dual-leg machine: a clock, quotes, and a hand-written venue that fills."""

from __future__ import annotations

from decimal import Decimal

from shared.messages.strategy import PairsParams
from shared.money import ONE, ZERO
from shared.strategies import DualLegMachine, LegSpec, OrderRequest, Quote, Step
from shared.strategies.types import CostModel

D = Decimal
MS = 1_000_000
T0 = 1_700_000_000_000_000_000
LEG_A = LegSpec(product_id="A-USD", base_increment=D("0.0001"))
LEG_B = LegSpec(product_id="B-USD", base_increment=D("0.0001"))


def pairs_params(**kw: object) -> PairsParams:
    """The original's pairs scenario settings, with zero cooldowns unless a test sets them."""
    base: dict[str, object] = {
        "leg1_id": "A-USD",
        "leg2_id": "B-USD",
        "window": 5,
        "entry_z": 1.9,
        "exit_z": 1.0,
        "hedge_ratio": "fixed",
        "notional": D(1000),
        "entry_cooldown_ms": 0,
        "exit_cooldown_ms": 0,
        "min_profit_bps": D(5),
        "stop_loss_bps": D(-100),
    }
    base.update(kw)
    return PairsParams(**base)  # type: ignore[arg-type]


def quotes(now: int, p1: object, p2: object, age_ms: int = 0) -> tuple[Quote, Quote]:
    """Both legs' quotes stamped `age_ms` before `now`."""
    ts = now - age_ms * MS
    return Quote(price=D(str(p1)), ts_ns=ts), Quote(price=D(str(p2)), ts_ns=ts)


class FakeVenue:
    """Fills requests at their reference price (or a given price), fully or in part, fee = 0."""

    def __init__(self, machine: DualLegMachine) -> None:
        self.machine = machine
        self.sent: list[OrderRequest] = []
        self._fills: dict[int, int] = {}

    def take(self, step: Step) -> list[OrderRequest]:
        """Record a step's orders and return them."""
        self.sent.extend(step.orders)
        return list(step.orders)

    def fill(
        self,
        order: OrderRequest,
        now: int,
        fraction: Decimal = ONE,
        price: Decimal | None = None,
        fee: Decimal = ZERO,
        done: bool = True,
    ) -> Step:
        """Fill `fraction` of `order`, then (optionally) report it done; returns the last step."""
        size = order.size * fraction
        step = None
        if size > 0:
            self._fills[order.seq] = self._fills.get(order.seq, 0) + 1
            step = self.machine.on_fill(
                order.seq,
                size,
                price or order.reference_price,
                fee,
                now,
                trade_id=f"s{order.seq}-{self._fills[order.seq]}",
            )
        if done:
            step = self.machine.on_order_done(order.seq, now, filled_size=size)
        assert step is not None
        return step

    def fill_all(self, step: Step, now: int, price_by_leg: dict[int, Decimal] | None = None) -> Step:
        """Fill every order of `step` completely; returns the step after the last event."""
        last = step
        for order in self.take(step):
            price = (price_by_leg or {}).get(order.leg)
            last = self.fill(order, now, price=price)
            self.sent.extend(last.orders)
        return last


def machine(params: PairsParams | None = None, costs: CostModel | None = None) -> DualLegMachine:
    """A pairs-style machine on two spot legs."""
    return DualLegMachine(params or pairs_params(), (LEG_A, LEG_B), costs or CostModel(taker_bps=D(0)))
