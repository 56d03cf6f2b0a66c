"""Value types shared by the strategy cores: decisions, quotes, legs, costs and order requests.

Cores return these instead of doing I/O: the service turns an `OrderRequest` into an `OrderIntent`
(with `client_order_id(strategy_id, seq, leg)`), and the backtester turns it into a simulated fill.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal

import msgspec

from shared.messages.base import Side
from shared.messages.orders import OrderType, Purpose, TimeInForce
from shared.messages.products import FeeRates, Priced, ProductInfo
from shared.messages.strategy import SignalAction
from shared.money import BPS, ONE, ZERO


class Direction(enum.IntEnum):
    """Which way a dual-leg position faces. LONG = long leg 1 / short leg 2 (cash-and-carry for
    basis, "long the spread" for pairs); SHORT is the mirror image."""

    LONG = 1
    SHORT = -1

    def side(self, leg: int) -> Side:
        """The side that opens this direction on `leg` (1 or 2)."""
        buys = (self is Direction.LONG) == (leg == 1)
        return Side.BUY if buys else Side.SELL


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What a signal core concluded on one input. `reason` is a stable code when it holds."""

    action: SignalAction = SignalAction.HOLD
    value: float = 0.0
    reason: str = ""
    hedge_ratio: float = 1.0


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest price of one leg and when it was received (int ns); used for freshness checks."""

    price: Decimal
    ts_ns: int


class LegSpec(msgspec.Struct, frozen=True, kw_only=True):
    """How one leg trades: order sizes are multiples of `base_increment` order units, and one order
    unit is `contract_size` base units (1 for spot, 0.01 BTC for the BTC nano future).

    The part of a `ProductInfo` the dual-leg machine sizes by (`of`); kept as its own type because a
    backtest has no venue catalogue to take the rest from, and it is what backtest reports list."""

    product_id: str
    base_increment: Decimal = Decimal("0.00000001")
    contract_size: Decimal = ONE

    @classmethod
    def of(cls, info: ProductInfo) -> LegSpec:
        """The leg of a product the venue publishes (KV `products`)."""
        return cls(
            product_id=info.product_id, base_increment=info.base_increment, contract_size=info.contract_size
        )

    def notional(self, size: Decimal, price: Decimal) -> Decimal:
        """Quote-currency value of `size` order units at `price` (price is per base unit)."""
        return size * self.contract_size * price


class CostModel(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy assumes one trade costs, in bps: one rate blended over its legs from the
    venue's *current* `FeeRates` (never hard-coded here), plus its own slippage assumption. Kept
    apart from `FeeRates` because it is a different thing: a per-strategy estimate, not a tier.

    A round trip of a dual-leg trade is four taker legs (open and close both instruments) plus
    slippage, as the original assumed.
    """

    taker_bps: Decimal
    maker_bps: Decimal = ZERO
    slippage_bps: Decimal = ZERO

    @classmethod
    def from_rates(cls, *, maker_rate: Decimal, taker_rate: Decimal, slippage_bps: Decimal) -> CostModel:
        """Build from Coinbase's fee-tier rates (fractions such as 0.006) and a slippage in bps."""
        return cls(taker_bps=taker_rate * BPS, maker_bps=maker_rate * BPS, slippage_bps=slippage_bps)

    @classmethod
    def of(cls, fees: FeeRates, legs: Sequence[Priced], *, slippage_bps: Decimal) -> CostModel:
        """Trading `legs` (at least one) at `fees`. Legs of different kinds (spot and a future)
        average their rates: a round trip is two fills of each leg, so 4 x the mean taker rate is
        exactly what it costs."""
        maker = sum((fees.maker(leg) for leg in legs), ZERO) / len(legs)
        taker = sum((fees.taker(leg) for leg in legs), ZERO) / len(legs)
        return cls.from_rates(maker_rate=maker, taker_rate=taker, slippage_bps=slippage_bps)

    @property
    def round_trip_bps(self) -> Decimal:
        """Cost of opening and closing both legs as taker, plus slippage."""
        return 4 * self.taker_bps + self.slippage_bps


ZERO_COSTS = CostModel(taker_bps=ZERO)


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An order a strategy wants. `seq` is unique per instance and monotonic; fills and order-done
    events are reported back against it. `leg` is the 1-based index of the product in the
    instance's products. Market IOC unless a `limit_price` (already on the product's price grid)
    is given."""

    seq: int
    leg: int
    side: Side
    size: Decimal
    purpose: Purpose
    reference_price: Decimal
    reason: str = ""
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.IOC
    post_only: bool = False
