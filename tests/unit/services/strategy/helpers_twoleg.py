"""Products of the two-leg engine tests, and a two-leg engine under a random market and a random venue: every order answered (filled, partly
filled, refused, unsendable, or later, or not at all), reconciliation resolving now and then, the
fee tier changing. After every event the venue checks what must hold whatever happens: no order
sequence is used twice and the positions are the fills since the last resolve."""

from __future__ import annotations

import random
from decimal import Decimal

from services.strategy.engine import Outcome
from services.strategy.twoleg_engine import TwoLegEngine
from shared.messages import ProductInfo
from shared.messages.orders import OrderStatus
from shared.strategies import CostModel, OrderRequest
from tests.unit.services.strategy.helpers import SECOND, T0, D, event_of, fill_of, info, tick

SID, A, B = "pairs-1", "A-USD", "B-USD"
SPOT, FUTURE = "BTC-USD", "BIT-28NOV25-CDE"
PAIRS_INFOS = {A: info(A, "0.001"), B: info(B, "0.001")}
BASIS_INFOS = {
    SPOT: info(SPOT, "0.00000001"),
    FUTURE: ProductInfo(
        venue="coinbase",
        product_id=FUTURE,
        base_increment=D(1),
        price_increment=D(5),
        contract_size=D("0.01"),
    ),
}
"""Pairs of two spot products; basis of BTC spot and a nano future of 0.01 BTC a contract."""
_NOT_APPLIED = ("duplicate_fill", "fill_for_unknown_order")


class Venue:
    """Answers one engine's orders; `reasons` are the outcomes' reason codes, `orders` how many
    were sent, `held` the positions the fills make."""

    def __init__(self, e: TwoLegEngine) -> None:
        self.e = e
        self.reasons: set[str] = set()
        self.orders = 0
        self.last_seq = 0
        self.held = {p: D(0) for p in e.products}

    def check(self, out: Outcome) -> Outcome:
        self.reasons.add(out.reason.split(":")[0])
        for o in out.orders:
            assert o.seq > self.last_seq, f"seq {o.seq} after {self.last_seq}"
            self.last_seq = o.seq
        self.orders += len(out.orders)
        assert dict(self.e.positions) == self.held
        return out

    def fill(self, o: OrderRequest, size: Decimal, price: float, now: int) -> None:
        product = self.e.products[o.leg - 1]
        out = self.e.on_fill(
            fill_of(SID, o.seq, o.leg, product, o.side, str(size), str(round(price, 2))), now
        )
        if out.reason not in _NOT_APPLIED:
            self.held[product] += o.side.sign * size
        self.check(out)

    def resolve(self, now: int, positions: tuple[Decimal, Decimal]) -> None:
        out = self.e.resolve(now, positions, (), "random")
        if out.reason.startswith("resolved"):
            self.held = dict(zip(self.e.products, positions, strict=True))
        self.check(out)

    def run(self, prices: tuple[float, float], seed: int, ticks: int = 600) -> None:
        """Mean-reverting random prices, one tick of each leg most seconds (some arriving late)."""
        e, rng = self.e, random.Random(seed)
        working: list[OrderRequest] = []
        p = list(prices)
        for i in range(ticks):
            now = T0 + i * SECOND
            for leg in (0, 1):
                p[leg] *= 1 + rng.gauss(0, 0.004) - (0.02 * (p[leg] / prices[leg] - 1))
                if rng.random() < 0.8:
                    e.on_ticker(tick(e.products[leg], round(p[leg], 2), now - rng.randrange(0, 3) * SECOND))
            working.extend(self.check(e.process(now)).orders)
            working.extend(self.check(e.on_timer(now)).orders)
            rng.shuffle(working)
            while working and rng.random() < 0.9:
                working.extend(self._answer(working.pop(), rng, p, now).orders)
            if e.state in ("reconciling", "halted") and rng.random() < 0.3:
                # Reconciliation reports the positions as they are, or (an operator closed them) flat.
                held = (e.positions[0][1], e.positions[1][1])
                self.resolve(now, held if rng.random() < 0.5 else (D(0), D(0)))
            if rng.random() < 0.01:
                e.set_costs(CostModel(taker_bps=D(rng.choice([0, 5, 10, 60])), slippage_bps=D(5)))

    def _answer(self, o: OrderRequest, rng: random.Random, p: list[float], now: int) -> Outcome:
        roll = rng.random()
        if roll < 0.1:
            return self.check(self.e.on_order_refused(o.seq, now, "KILL_SWITCH"))
        if roll < 0.15:
            return self.check(self.e.on_order_unsendable(o.seq, now, "below_min_size"))
        part = o.size if roll < 0.75 else (o.size * D(rng.randrange(0, 4)) / 4)
        if part > 0:
            self.fill(o, part, p[o.leg - 1], now)
        product = self.e.products[o.leg - 1]
        event = event_of(SID, o.seq, o.leg, product, o.side, OrderStatus.FILLED, str(part))
        return self.check(self.e.on_order_event(event, now))
