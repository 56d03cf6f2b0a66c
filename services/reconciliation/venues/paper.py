"""The paper reader: the simulated account execution keeps in KV `paper_account`.

Execution's paper adapter writes `<venue>.<account>.account` (balances, holds, futures positions)
and `<venue>.<account>.order.<client_order_id>` (the approved order, its status and every fill it
got). Those records are the paper venue's memory, so they play the venue's part here. The structs
below mirror only the fields read (unknown fields are ignored), so execution may add fields freely.
The catalogue is the venue core's default one, as the paper adapter's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal

import msgspec

from services.reconciliation.model import ZERO, OrderRef, ProductRef, VenueFill, VenueOrder, VenueSnapshot
from shared import subjects
from shared.bus import Bus, TypedKV
from shared.messages import Fill, Order, OrderStatus
from shared.venue import ProductType, default_products

_OPEN = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


class PaperPositionView(msgspec.Struct, frozen=True, kw_only=True):
    """A futures position of the paper account (signed contracts)."""

    contracts: Decimal = ZERO


class PaperAccountView(msgspec.Struct, frozen=True, kw_only=True):
    """The paper account's wallets (totals, holds included) and futures positions."""

    balances: dict[str, Decimal] = msgspec.field(default_factory=dict)
    positions: dict[str, PaperPositionView] = msgspec.field(default_factory=dict)


class PaperOrderView(msgspec.Struct, frozen=True, kw_only=True):
    """One paper order record."""

    order: Order
    venue_order_id: str = ""
    status: OrderStatus = OrderStatus.ACCEPTED
    fills: tuple[Fill, ...] = ()
    reason: str = ""


def to_venue_fill(fill: Fill) -> VenueFill:
    """A paper fill as the venue would list it."""
    return VenueFill(
        trade_id=fill.trade_id,
        order_id=fill.venue_order_id,
        client_order_id=fill.client_order_id,
        product_id=fill.product_id,
        side=fill.side,
        price=fill.price,
        size=fill.size,
        commission=fill.fee,
        liquidity=fill.liquidity,
        time_ns=fill.fill_ns,
    )


def to_venue_order(record: PaperOrderView) -> VenueOrder:
    """A paper order record as the venue would report it, with its fills."""
    filled = sum((f.size for f in record.fills), ZERO)
    average = sum((f.size * f.price for f in record.fills), ZERO) / filled if filled > ZERO else None
    status = record.status
    if status in _OPEN:
        status = OrderStatus.PARTIALLY_FILLED if filled > ZERO else OrderStatus.ACCEPTED
    return VenueOrder(
        order_id=record.venue_order_id,
        client_order_id=record.order.client_order_id,
        product_id=record.order.product_id,
        side=record.order.side,
        status=status,
        filled_size=filled,
        average_price=average,
        reason=record.reason,
        created_ns=record.order.approved_ns,
        fills=tuple(to_venue_fill(f) for f in record.fills),
    )


class PaperReader:
    """`VenueReader` over KV `paper_account`."""

    def __init__(
        self, bus: Bus, venue: str, account_id: str, *, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self._bus = bus
        self._prefix = f"{venue}.{account_id}."
        self._accounts: TypedKV[PaperAccountView] | None = None
        self._orders: TypedKV[PaperOrderView] | None = None
        self._products = {
            p.product_id: ProductRef(
                product_id=p.product_id,
                is_future=p.product_type is ProductType.FUTURE,
                base_currency=p.base_currency,
                base_increment=p.base_increment,
                quote_currency=p.quote_currency,
            )
            for p in default_products(clock())
        }

    async def _kvs(self) -> tuple[TypedKV[PaperAccountView], TypedKV[PaperOrderView]]:
        if self._accounts is None or self._orders is None:
            self._accounts = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperAccountView)
            self._orders = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperOrderView)
        return self._accounts, self._orders

    async def _records(self) -> list[PaperOrderView]:
        _, orders = await self._kvs()
        prefix = self._prefix + "order."
        keys = sorted(key for key in await orders.keys() if key.startswith(prefix))
        return [entry.value for entry in await orders.get_many(keys) if entry is not None]

    async def snapshot(self, fills_since_ns: int) -> VenueSnapshot:
        """The account and every order record, read now."""
        accounts, _ = await self._kvs()
        entry = await accounts.get(self._prefix + "account")
        account = entry.value if entry is not None else PaperAccountView()
        records = await self._records()
        fills = [to_venue_fill(f) for r in records for f in r.fills if f.fill_ns >= fills_since_ns]
        return VenueSnapshot(
            balances=dict(account.balances),
            futures={p: v.contracts for p, v in account.positions.items() if v.contracts != ZERO},
            open_orders=tuple(to_venue_order(r) for r in records if r.status in _OPEN),
            fills=tuple(sorted(fills, key=lambda f: (f.time_ns, f.trade_id))),
            products=self._products,
        )

    async def look_up(self, refs: Sequence[OrderRef]) -> dict[str, VenueOrder | None]:
        """The record of each order, or None when the paper venue never received it."""
        _, orders = await self._kvs()
        entries = await orders.get_many([self._prefix + "order." + ref.client_order_id for ref in refs])
        return {
            ref.client_order_id: to_venue_order(entry.value) if entry is not None else None
            for ref, entry in zip(refs, entries, strict=True)
        }

    async def close(self) -> None:
        """Nothing to release: the bus belongs to the service."""
