"""The paper reader: the simulated account execution keeps in KV `paper_account`.

Execution's paper adapter writes the account and one record per order (`shared.messages.paper`:
the approved order, its status and every fill it got). Those records are the paper venue's memory,
so they play the venue's part here. The catalogue is the venue core's default one, as the paper
adapter's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from services.reconciliation.model import OrderRef, ProductRef, VenueFill, VenueOrder, VenueSnapshot
from shared import subjects
from shared.bus import Bus, TypedKV
from shared.messages import (
    Fill,
    OrderStatus,
    PaperAccountState,
    PaperOrderRecord,
    paper_account_key,
    paper_order_key,
    paper_order_prefix,
)
from shared.money import ZERO
from shared.venue import ProductType, default_products


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


def to_venue_order(record: PaperOrderRecord) -> VenueOrder:
    """A paper order record as the venue would report it, with its fills."""
    filled = record.filled_size
    status = record.status
    if record.is_open:
        status = OrderStatus.PARTIALLY_FILLED if filled > ZERO else OrderStatus.ACCEPTED
    return VenueOrder(
        order_id=record.venue_order_id,
        client_order_id=record.order.client_order_id,
        product_id=record.order.product_id,
        side=record.order.side,
        status=status,
        filled_size=filled,
        average_price=record.average_price,
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
        self._venue = venue
        self._account_id = account_id
        self._accounts: TypedKV[PaperAccountState] | None = None
        self._orders: TypedKV[PaperOrderRecord] | None = None
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

    async def _kvs(self) -> tuple[TypedKV[PaperAccountState], TypedKV[PaperOrderRecord]]:
        if self._accounts is None or self._orders is None:
            self._accounts = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperAccountState)
            self._orders = await self._bus.kv(subjects.KV_PAPER_ACCOUNT, PaperOrderRecord)
        return self._accounts, self._orders

    async def _records(self) -> list[PaperOrderRecord]:
        _, orders = await self._kvs()
        prefix = paper_order_prefix(self._venue, self._account_id)
        keys = sorted(key for key in await orders.keys() if key.startswith(prefix))
        return [entry.value for entry in await orders.get_many(keys) if entry is not None]

    async def snapshot(self, fills_since_ns: int) -> VenueSnapshot:
        """The account and every order record, read now."""
        accounts, _ = await self._kvs()
        entry = await accounts.get(paper_account_key(self._venue, self._account_id))
        account = entry.value if entry is not None else PaperAccountState(balances={})
        records = await self._records()
        fills = [to_venue_fill(f) for r in records for f in r.fills if f.fill_ns >= fills_since_ns]
        return VenueSnapshot(
            balances=dict(account.balances),
            futures={p: v.contracts for p, v in account.positions.items() if v.contracts != ZERO},
            open_orders=tuple(to_venue_order(r) for r in records if r.is_open),
            fills=tuple(sorted(fills, key=lambda f: (f.time_ns, f.trade_id))),
            products=self._products,
        )

    async def look_up(self, refs: Sequence[OrderRef]) -> dict[str, VenueOrder | None]:
        """The record of each order, or None when the paper venue never received it."""
        _, orders = await self._kvs()
        keys = [paper_order_key(self._venue, self._account_id, ref.client_order_id) for ref in refs]
        entries = await orders.get_many(keys)
        return {
            ref.client_order_id: to_venue_order(entry.value) if entry is not None else None
            for ref, entry in zip(refs, entries, strict=True)
        }

    async def close(self) -> None:
        """Nothing to release: the bus belongs to the service."""
