"""Small builders for the pure-core tests: a ledger view, a venue snapshot, fills and orders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from services.reconciliation.config import PolicySettings, ReconSettings
from services.reconciliation.model import (
    LedgerOrder,
    LedgerView,
    Memory,
    ProductRef,
    VenueFill,
    VenueOrder,
    VenueSnapshot,
)
from shared.config import VenueSettings
from shared.messages import Liquidity, OrderStatus, Purpose, Side

D = Decimal
S = 1_000_000_000
NOW = 1_000_000 * S
VENUE = "coinbase"
PRODUCTS = {
    "BTC-USD": ProductRef(product_id="BTC-USD", is_future=False, base_currency="BTC"),
    "ETH-USD": ProductRef(product_id="ETH-USD", is_future=False, base_currency="ETH"),
    "BIT-FUT": ProductRef(product_id="BIT-FUT", is_future=True, base_currency="BTC", base_increment=D(1)),
}
SETTLED = Memory(baseline={"BTC": D(1), "ETH": D(0), "USD": D(0)})
"""A memory whose baseline is already captured (1 BTC held before any trade)."""


def settings(**overrides: Any) -> ReconSettings:
    values: dict[str, Any] = {
        "venue": VenueSettings(name=VENUE),
        "mode": "live",
        "fill_grace_s": 5.0,
        "unknown_grace_s": 30.0,
    }
    if isinstance(overrides.get("policy"), dict):
        overrides["policy"] = PolicySettings(**overrides["policy"])
    values.update(overrides)
    return ReconSettings(**values)


def order(
    coid: str,
    *,
    sid: str = "s1",
    product: str = "BTC-USD",
    side: Side = Side.BUY,
    size: str = "0.5",
    status: OrderStatus | None = OrderStatus.ACCEPTED,
    filled: str = "0",
    purpose: Purpose = Purpose.ENTRY,
    seq: int = 1,
    leg: int = 1,
    venue_order_id: str = "",
    age_s: float = 60,
) -> LedgerOrder:
    return LedgerOrder(
        client_order_id=coid,
        strategy_id=sid,
        product_id=product,
        side=side,
        size=D(size),
        purpose=purpose,
        intent_seq=seq,
        leg=leg,
        status=status,
        filled_size=D(filled),
        venue_order_id=venue_order_id,
        created_ns=NOW - int(age_s * S),
        updated_ns=NOW - int(age_s * S),
    )


def ledger(
    positions: Mapping[tuple[str, str], str] | None = None,
    trade_ids: Sequence[str] = (),
    orders: Sequence[LedgerOrder] = (),
) -> LedgerView:
    return LedgerView(
        venue=VENUE,
        positions={k: D(v) for k, v in (positions or {}).items()},
        trade_ids=frozenset(trade_ids),
        orders={o.client_order_id: o for o in orders},
    )


def vfill(
    trade_id: str,
    coid: str = "",
    *,
    product: str = "BTC-USD",
    side: Side = Side.BUY,
    size: str = "0.5",
    price: str = "100",
    age_s: float = 60,
    order_id: str = "",
) -> VenueFill:
    return VenueFill(
        trade_id=trade_id,
        order_id=order_id or f"v-{coid or trade_id}",
        client_order_id=coid,
        product_id=product,
        side=side,
        price=D(price),
        size=D(size),
        commission=D("0.45"),
        liquidity=Liquidity.TAKER,
        time_ns=NOW - int(age_s * S),
    )


def vorder(
    coid: str,
    *,
    status: OrderStatus = OrderStatus.FILLED,
    product: str = "BTC-USD",
    side: Side = Side.BUY,
    filled: str = "0.5",
    fills: Sequence[VenueFill] = (),
    age_s: float = 60,
) -> VenueOrder:
    return VenueOrder(
        order_id=f"v-{coid}",
        client_order_id=coid,
        product_id=product,
        side=side,
        status=status,
        filled_size=D(filled),
        average_price=D(100) if D(filled) > 0 else None,
        created_ns=NOW - int(age_s * S),
        fills=tuple(fills),
    )


def venue(
    balances: Mapping[str, str] | None = None,
    futures: Mapping[str, str] | None = None,
    open_orders: Sequence[VenueOrder] = (),
    fills: Sequence[VenueFill] = (),
) -> VenueSnapshot:
    return VenueSnapshot(
        balances={k: D(v) for k, v in (balances or {"BTC": "1", "USD": "1000"}).items()},
        futures={k: D(v) for k, v in (futures or {}).items()},
        open_orders=tuple(open_orders),
        fills=tuple(fills),
        products=PRODUCTS,
    )
