"""A probe strategy that records what it is handed and runs a test's action, and builders for the
runner's tests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.messages import ProductInfo
from shared.messages.orders import Liquidity
from shared.sdk import Bar, Context, Data, FillView, OrderView, Params, Strategy, Tick
from shared.sdk.runtime import Effects, Runner
from shared.strategies import CostModel

D = Decimal
SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND
SID, P, Q = "sdk-1", "BTC-USD", "ETH-USD"

Action = Callable[[str, Any, Context], None]


class ProbeParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the probe trades and which data it asks for."""

    products: tuple[str, ...] = (P,)
    ticks: bool = True
    bars_s: int = 0
    label: str = ""


class Probe(Strategy[ProbeParams]):
    """Records every event as (kind, detail); the class's `act` (not part of the state) runs on
    each. `runner()` makes a subclass per runner, so setting `act` touches no other test."""

    act: Action | None = None

    def __init__(self, params: ProbeParams) -> None:
        super().__init__(params)
        self.seen: list[tuple[str, str]] = []

    def products(self) -> tuple[str, ...]:
        return self.params.products

    def data(self) -> Data:
        return Data(ticks=self.params.ticks, bars_s=self.params.bars_s)

    def _event(self, kind: str, detail: str, obj: Any, ctx: Context) -> None:
        self.seen.append((kind, detail))
        act = type(self).act
        if act is not None:
            act(kind, obj, ctx)

    def on_start(self, ctx: Context) -> None:
        self._event("start", "", None, ctx)

    def on_tick(self, tick: Tick, ctx: Context) -> None:
        self._event("tick", str(tick.last), tick, ctx)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        self._event("bar", f"{bar.start}:{bar.open}/{bar.high}/{bar.low}/{bar.close}", bar, ctx)

    def on_fill(self, fill: FillView, ctx: Context) -> None:
        self._event("fill", f"{fill.side.value}:{fill.size}", fill, ctx)

    def on_order(self, order: OrderView, ctx: Context) -> None:
        self._event("order", order.state.value, order, ctx)


def info(product: str = P, min_size: str = "0", min_notional: str = "0") -> ProductInfo:
    """Sizes on a 0.0001 grid, prices on a cent grid."""
    return ProductInfo(
        venue="coinbase",
        product_id=product,
        base_increment=D("0.0001"),
        price_increment=D("0.01"),
        base_min_size=D(min_size),
        min_notional=D(min_notional),
    )


def runner(
    strategy: Strategy[Any] | None = None, infos: dict[str, ProductInfo] | None = None, **params: Any
) -> Runner:
    """A runner (5 s execution timeout) around `strategy`, or a fresh probe with `params`."""
    strat = strategy if strategy is not None else probe_class()(ProbeParams(**params))
    return Runner(SID, strat, infos or {P: info(P), Q: info(Q)}, CostModel(taker_bps=D(60)), 5 * SECOND)


def probe_class() -> type[Probe]:
    """A probe subclass of its own (its `act` is free to set)."""
    return type("Probe", (Probe,), {"__module__": Probe.__module__, "__qualname__": "Probe"})


def probe_of(r: Runner) -> type[Probe]:
    """The runner's own probe class."""
    probe = type(r.strategy)
    assert issubclass(probe, Probe)
    assert probe is not Probe
    return probe


def seen(r: Runner) -> list[tuple[str, str]]:
    """What the runner's probe was handed."""
    assert isinstance(r.strategy, Probe)
    return r.strategy.seen


def do(
    r: Runner, action: Callable[[Context], Any], price: object = 100, ts_ns: int = T0
) -> tuple[Any, Effects]:
    """Run `action(ctx)` while the probe handles a tick at `price`: its result and the effects."""
    probe = probe_of(r)
    results: list[Any] = []

    def once(kind: str, event: Any, ctx: Context) -> None:
        if kind == "tick" and not results:
            results.append(action(ctx))

    probe.act = staticmethod(once)
    try:
        effects = r.on_tick(tick(price, ts_ns))
    finally:
        probe.act = None
    assert results, "the probe took no tick (ticks=False?)"
    return results[0], effects


def tick(price: object, ts_ns: int = T0, product: str = P) -> Tick:
    """A tick at `price` (bid/ask a cent either side)."""
    p = D(str(price))
    return Tick(product_id=product, bid=p - D("0.01"), ask=p + D("0.01"), last=p, ts_ns=ts_ns)


def bar(low: object, high: object, start: int = T0 // SECOND, product: str = P) -> Bar:
    """A one-minute bar from `low` to `high` (closing at the high)."""
    lo, hi = D(str(low)), D(str(high))
    return Bar(
        product_id=product, start=start, interval_s=60, open=lo, high=hi, low=lo, close=hi, volume=D(1)
    )


def fill(r: Runner, order_id: str, size: str, price: str = "100", trade: str = "") -> Effects:
    """A taker fill of one of the runner's orders."""
    trade_id = trade or f"{order_id}-{size}-{price}"
    return r.on_fill(trade_id, order_id, D(price), D(size), D(0), Liquidity.TAKER, r.now or T0)


def opened(r: Runner, size: str = "1", price: str = "100") -> str:
    """Give the runner a position of `size` (negative: short) through a filled market order."""
    amount = D(size)
    view, _ = do(r, lambda ctx: (ctx.buy if amount > 0 else ctx.sell)(P, abs(amount)), price)
    assert view is not None
    fill(r, view.id, str(abs(amount)), price)
    return str(view.id)
