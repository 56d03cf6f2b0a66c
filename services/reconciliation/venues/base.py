"""The one Protocol both venue readers implement, and their typed error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.reconciliation.model import OrderRef, VenueOrder, VenueSnapshot
from shared.errors import AlgopioneerError


class VenueReadError(AlgopioneerError):
    """The venue could not be read this cycle (it is skipped and reported, never guessed)."""


class VenueReader(Protocol):
    """Read-only access to what the venue holds; `live` (REST) and `paper` (KV) side by side."""

    async def snapshot(self, fills_since_ns: int) -> VenueSnapshot:
        """Wallets, futures positions, open orders, and fills sequenced at or after the cursor."""
        ...

    async def look_up(self, refs: Sequence[OrderRef]) -> dict[str, VenueOrder | None]:
        """Each order by client order id with its fills; None when the venue has no such order."""
        ...

    async def close(self) -> None:
        """Release what the reader holds."""
        ...
