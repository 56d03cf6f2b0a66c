"""The paper venue's order records: its memory of every order, kept in KV `paper_account`.

A record is the truth about an order (status, fills and each fill's account number, `state.py`): a
redelivered order whose record exists is re-reported from it, never matched again. The records
open on a product's book decide whether new market data goes into the venue core at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

from services.execution.paper.convert import status_of, to_fill
from shared.bus import TypedKV
from shared.messages import Fill, OrderStatus, PaperOrderRecord, paper_order_prefix
from shared.venue import VenueEvents


class PaperRecords:
    """Records by client order id, the open ones per product, and the venue core order of each."""

    def __init__(self, venue: str, account_id: str) -> None:
        self._prefix = paper_order_prefix(venue, account_id)
        self._kv: TypedKV[PaperOrderRecord] | None = None
        self._records: dict[str, PaperOrderRecord] = {}
        self._resting: dict[str, set[str]] = {}  # product → client order ids resting on it
        self._core_ids: dict[str, str] = {}  # client order id → its order in this process's venue core

    async def load(self, kv: TypedKV[PaperOrderRecord]) -> None:
        """Read this account's records from KV (the previous process's memory)."""
        self._kv = kv
        keys = [key for key in await kv.keys() if key.startswith(self._prefix)]
        for stored in await kv.get_many(keys):
            if stored is not None:
                self.remember(stored.value)

    def remember(self, record: PaperOrderRecord) -> None:
        """The record in memory, and whether it rests on its product's book."""
        coid, pid = record.order.client_order_id, record.order.product_id
        self._records[coid] = record
        resting = self._resting.setdefault(pid, set())
        if record.is_open:
            resting.add(coid)
        else:
            resting.discard(coid)

    def put(self, client_order_id: str) -> Awaitable[int]:
        """Write the record as it is now (the value is taken at the call, not when awaited)."""
        assert self._kv is not None, "records not loaded"
        return self._kv.put(self._prefix + client_order_id, self._records[client_order_id])

    def get(self, client_order_id: str) -> PaperOrderRecord | None:
        return self._records.get(client_order_id)

    def __getitem__(self, client_order_id: str) -> PaperOrderRecord:
        return self._records[client_order_id]

    def all(self) -> list[PaperOrderRecord]:
        return list(self._records.values())

    def resting_on(self, product_id: str) -> bool:
        """Whether an order rests on the product (then a moving market may fill it)."""
        return bool(self._resting.get(product_id))

    def numbered_fills(self) -> list[tuple[int, Fill]]:
        """Every recorded fill with its account number."""
        return [item for record in self._records.values() for item in record.numbered_fills]

    def bind(self, client_order_id: str, core_id: str) -> None:
        """The venue core order now carrying the record (placed, or put back after a restart)."""
        self._core_ids[client_order_id] = core_id

    def core_id(self, client_order_id: str) -> str | None:
        return self._core_ids.get(client_order_id)

    def changes(
        self, events: VenueEvents, number: Callable[[], int]
    ) -> tuple[list[tuple[PaperOrderRecord, bool]], list[Fill]]:
        """What the venue core did, as new record states (each with whether its status or filled
        size changed, i.e. whether it is reported) and the new fills, numbered by `number` in order.
        Events of a venue core order that no longer carries its record are ignored."""
        touched: dict[str, PaperOrderRecord] = {}
        new_fills: list[Fill] = []
        for vfill in events.fills:
            record = touched.get(vfill.client_order_id) or self._records.get(vfill.client_order_id)
            if record is None:
                continue
            fill = to_fill(vfill, record.order, record.venue_order_id)
            new_fills.append(fill)
            touched[vfill.client_order_id] = msgspec.structs.replace(
                record, fills=(*record.fills, fill), fill_nos=(*record.fill_nos, number())
            )
        for vorder in events.orders:
            coid = vorder.request.client_order_id
            record = touched.get(coid) or self._records.get(coid)
            if record is None or self._core_ids.get(coid) != vorder.order_id:
                continue
            status = status_of(vorder, record.filled_size)
            reason = vorder.cancel_message if status is OrderStatus.CANCELLED else ""
            touched[coid] = msgspec.structs.replace(record, status=status, reason=reason)
        staged = []
        for coid, record in touched.items():
            before = self._records.get(coid)
            changed = before is None or (before.status, before.filled_size) != (
                record.status,
                record.filled_size,
            )
            staged.append((record, changed))
        return staged, new_fills
