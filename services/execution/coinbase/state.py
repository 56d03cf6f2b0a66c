"""What the live adapter remembers in KV `exec_state`, so any replica (or a restart) can carry on.

Per order (`<venue>.order.<client_order_id>`): the approved `Order` (the venue knows nothing of
strategies), its venue id once known, the last status reported and the trade ids already published.
The record is written *before* the create-order call, so a fill seen by the poller can always be
attributed, even when the placing replica died mid-call.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import structlog

from shared.bus import TypedKV
from shared.messages import Order, OrderStatus
from shared.money import ZERO

_log = structlog.get_logger("execution.coinbase.state")
_OPEN = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


class LiveOrderRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One order as the adapter tracks it; `status` None means "sent, outcome not known yet"."""

    order: Order
    venue_order_id: str = ""
    status: OrderStatus | None = None
    filled_size: Decimal = ZERO
    filled_value: Decimal = ZERO
    trade_ids: tuple[str, ...] = ()
    reason: str = ""

    @property
    def average_price(self) -> Decimal | None:
        """Volume-weighted fill price, None before the first fill."""
        return self.filled_value / self.filled_size if self.filled_size > ZERO else None

    @property
    def is_open(self) -> bool:
        """Accepted and not finished: fills and a cancel may still come."""
        return self.status in _OPEN


class OrderStore:
    """Records in KV plus an in-memory index by venue order id (fills name only that)."""

    def __init__(self, kv: TypedKV[LiveOrderRecord], venue: str) -> None:
        self._kv = kv
        self._prefix = f"{venue}.order."
        self._by_coid: dict[str, LiveOrderRecord] = {}
        self._by_vid: dict[str, str] = {}

    def _key(self, client_order_id: str) -> str:
        return self._prefix + client_order_id

    async def load(self) -> None:
        """Read every record of this venue (at start): open orders are then synced with the venue."""
        for key in await self._kv.keys():
            if key.startswith(self._prefix):
                entry = await self._kv.get(key)
                if entry is not None:
                    self._remember(entry.value)

    def _remember(self, record: LiveOrderRecord) -> None:
        self._by_coid[record.order.client_order_id] = record
        if record.venue_order_id:
            self._by_vid[record.venue_order_id] = record.order.client_order_id

    async def fetch(self, client_order_id: str) -> LiveOrderRecord | None:
        """The freshest record (from KV: another replica may have written it)."""
        entry = await self._kv.get(self._key(client_order_id))
        if entry is None:
            return self._by_coid.get(client_order_id)
        self._remember(entry.value)
        return entry.value

    def get(self, client_order_id: str) -> LiveOrderRecord | None:
        """The record as this replica last saw it."""
        return self._by_coid.get(client_order_id)

    def coid_for(self, venue_order_id: str) -> str | None:
        """The client order id of a venue order we placed (None when unknown here)."""
        return self._by_vid.get(venue_order_id)

    async def put(self, record: LiveOrderRecord) -> LiveOrderRecord:
        """Persist and index a record; returns it for chaining."""
        await self._kv.put(self._key(record.order.client_order_id), record)
        self._remember(record)
        return record

    def open_records(self) -> list[LiveOrderRecord]:
        """Orders that may still fill or be cancelled."""
        return [r for r in self._by_coid.values() if r.is_open]
