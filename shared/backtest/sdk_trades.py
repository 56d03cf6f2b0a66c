"""Round trips of an SDK backtest: one per product from the first fill off flat back to flat.

A strategy may scale in and out, and a fill may flip the position through zero; the flip is split
(the part that flattens ends the trip, the rest opens the next one, fee shared pro rata). A trip's
PnL is its cash flow: what the closing fills brought in minus what the opening fills cost, net of
every fee, so the trips of a run add up to its realised PnL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from shared.backtest.types import TRADE_SCHEMA
from shared.money import ZERO

SDK_TRADE_SCHEMA: dict[str, type[pl.DataType] | pl.DataType] = {
    **TRADE_SCHEMA,
    "product_id": pl.String,
    "direction": pl.String,
}


@dataclass(frozen=True)
class SdkTrade:
    """One round trip of one product. Prices are volume-weighted, slippage included; `size` is the
    quantity opened (order units); `exit_reason` is the tag of the order that made the position
    flat ('close', 'stop_loss', a strategy's own tag...) or 'end_of_data'."""

    product_id: str
    direction: int
    entry_time: int
    exit_time: int
    entry_price: Decimal
    exit_price: Decimal
    size: Decimal
    fees: Decimal
    pnl: Decimal
    exit_reason: str


class _Trip:
    """A round trip still open."""

    def __init__(self, direction: int, entry_time: int) -> None:
        self.direction = direction
        self.entry_time = entry_time
        self.position = ZERO
        self.opened = self.opened_value = ZERO
        self.closed = self.closed_value = ZERO
        self.fees = self.cash = ZERO

    def add(self, qty: Decimal, price: Decimal, notional: Decimal, fee: Decimal) -> None:
        """A fill (signed `qty` and `notional`) that does not cross zero."""
        if (qty > 0) == (self.direction > 0):
            self.opened += abs(qty)
            self.opened_value += abs(qty) * price
        else:
            self.closed += abs(qty)
            self.closed_value += abs(qty) * price
        self.position += qty
        self.fees += fee
        self.cash -= notional + fee

    def done(self, product_id: str, exit_time: int, reason: str) -> SdkTrade:
        return SdkTrade(
            product_id=product_id,
            direction=self.direction,
            entry_time=self.entry_time,
            exit_time=exit_time,
            entry_price=self.opened_value / self.opened,
            exit_price=self.closed_value / self.closed,
            size=self.opened,
            fees=self.fees,
            pnl=self.cash,
            exit_reason=reason,
        )


class TradeBook:
    """Open trips per product and the finished ones, in the order they ended."""

    def __init__(self) -> None:
        self.open: dict[str, _Trip] = {}
        self.done: list[SdkTrade] = []

    def add(
        self,
        product_id: str,
        ts_ns: int,
        qty: Decimal,
        price: Decimal,
        notional: Decimal,
        fee: Decimal,
        tag: str,
    ) -> None:
        """Book one fill: signed `qty` in order units, signed `notional` in quote currency."""
        trip = self.open.get(product_id)
        if trip is None:
            trip = self.open[product_id] = _Trip(1 if qty > 0 else -1, ts_ns)
        if trip.position == ZERO or (qty > 0) == (trip.position > 0) or abs(qty) <= abs(trip.position):
            trip.add(qty, price, notional, fee)
        else:  # through zero: flatten at this fill, open the rest as the next trip
            part, rest = -trip.position / qty, qty + trip.position
            trip.add(-trip.position, price, notional * part, fee * part)
            self._finish(product_id, ts_ns, tag)
            self.add(product_id, ts_ns, rest, price, notional * (1 - part), fee * (1 - part), tag)
            return
        if trip.position == ZERO:
            self._finish(product_id, ts_ns, tag)

    def _finish(self, product_id: str, ts_ns: int, tag: str) -> None:
        trip = self.open.pop(product_id)
        self.done.append(trip.done(product_id, ts_ns, tag or "signal"))


def trades_frame(trades: list[SdkTrade]) -> pl.DataFrame:
    """The trades as the float frame reports and charts read (the common trade columns, plus the
    product and the direction)."""
    rows: list[dict[str, Any]] = [
        {
            "entry_time": t.entry_time,
            "exit_time": t.exit_time,
            "entry_price": float(t.entry_price),
            "exit_price": float(t.exit_price),
            "size": float(t.size),
            "fees": float(t.fees),
            "pnl": float(t.pnl),
            "exit_reason": t.exit_reason,
            "product_id": t.product_id,
            "direction": "long" if t.direction > 0 else "short",
        }
        for t in trades
    ]
    raw = {k: (pl.Int64 if k.endswith("_time") else v) for k, v in SDK_TRADE_SCHEMA.items()}
    return pl.DataFrame(rows, schema=raw).cast(SDK_TRADE_SCHEMA)  # type: ignore[arg-type]
