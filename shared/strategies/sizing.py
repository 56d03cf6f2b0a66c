"""Sizing both legs of a hedged trade on the products' grids, with the unhedged residual reported.

Leg 1 is sized from a quote-currency notional and rounded DOWN (never trade more than allotted);
leg 2 is rounded to the NEAREST increment of its own grid (whole contracts for a future), because
the best hedge is the closest one, not the smaller one. What rounding leaves unhedged is reported
so the caller can see it (and refuse a trade whose residual is too large).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from shared.money import ONE, ZERO, round_to_increment
from shared.strategies.types import LegSpec

HedgeMatch = Literal["notional", "base"]


class HedgeSizing(msgspec.Struct, frozen=True, kw_only=True):
    """Order sizes (in each leg's order units) and what the rounding left unhedged.

    `residual_base` is in leg 2's base units: the hedge target minus what leg 2 actually covers
    (positive = under-hedged). `residual_notional` is that residual valued at leg 2's price.
    """

    leg1_size: Decimal
    leg2_size: Decimal
    leg1_notional: Decimal
    leg2_notional: Decimal
    residual_base: Decimal
    residual_notional: Decimal


def size_legs(
    notional: Decimal,
    p1: Decimal,
    p2: Decimal,
    leg1: LegSpec,
    leg2: LegSpec,
    *,
    ratio: Decimal = ONE,
    match: HedgeMatch = "notional",
) -> HedgeSizing:
    """Size leg 1 from `notional`, then hedge it on leg 2.

    `match="notional"`: leg 2 carries `ratio` × leg 1's value (dollar-neutral at ratio 1; pairs
    pass the hedge ratio). `match="base"`: leg 2 carries the same base quantity × `ratio` (a spot
    vs future basis trade on one underlying: 0.37 BTC spot is hedged by 37 nano contracts).
    """
    if p1 <= ZERO or p2 <= ZERO or notional <= ZERO or ratio <= ZERO:
        raise ValueError("prices, notional and ratio must be positive")
    size1 = round_to_increment(notional / (p1 * leg1.contract_size), leg1.base_increment)
    base1 = size1 * leg1.contract_size
    target_base2 = base1 * ratio if match == "base" else base1 * p1 * ratio / p2
    size2 = round_to_increment(target_base2 / leg2.contract_size, leg2.base_increment, mode="nearest")
    residual = target_base2 - size2 * leg2.contract_size
    return HedgeSizing(
        leg1_size=size1,
        leg2_size=size2,
        leg1_notional=leg1.notional(size1, p1),
        leg2_notional=leg2.notional(size2, p2),
        residual_base=residual,
        residual_notional=residual * p2,
    )
