"""The live reader: Coinbase Advanced Trade (or the simulator) through the SDK's `RESTClient`.

Every call is a blocking SDK call run in a worker thread, retried a few times (all reads are
idempotent). Wallets are paged, futures positions come from CFM, open orders from the
batch list with every still-working status, fills from the authoritative fill list since the
cursor (newest first, paging stops once past the cursor). The REST fill names only the venue
order id, so each new order id is looked up once for its client order id (then cached).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import requests
import structlog
from coinbase.rest import RESTClient

from services.reconciliation.config import LiveReaderSettings
from services.reconciliation.model import OrderRef, ProductRef, VenueFill, VenueOrder, VenueSnapshot
from services.reconciliation.venues import schemas as s
from services.reconciliation.venues.base import VenueReadError
from shared.coinbase import schemas as cb
from shared.coinbase.parse import dec_or_zero, to_rfc3339
from shared.money import ZERO

_log = structlog.get_logger("reconciliation.live")
API = "/api/v3/brokerage"


class LiveReader:
    """`VenueReader` over REST."""

    def __init__(
        self,
        client: RESTClient,
        settings: LiveReaderSettings,
        *,
        order_lookback_s: float,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._client = client
        self._settings = settings
        self._lookback_ns = int(order_lookback_s * 1e9)
        self._clock = clock
        self._coids: dict[str, str] = {}
        self._products: dict[str, ProductRef] = {}
        self._products_ns = 0
        self.calls = 0

    async def _get(self, path: str, params: dict[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        """One GET with retries; 404 is None when `missing_ok`, other 4xx fail at once."""
        last: Exception | None = None
        for attempt in range(self._settings.read_attempts):
            if attempt:
                await asyncio.sleep(self._settings.retry_delay_s)
            self.calls += 1
            try:
                return await asyncio.to_thread(self._client.get, path, params=params)
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 404 and missing_ok:
                    return None
                if 400 <= status < 500 and status != 429:
                    raise VenueReadError(f"GET {path}: HTTP {status}") from exc
                last = exc
            except (requests.RequestException, OSError) as exc:
                last = exc
        raise VenueReadError(f"GET {path} failed after {self._settings.read_attempts} attempts: {last}")

    # ---- snapshot ----
    async def snapshot(self, fills_since_ns: int) -> VenueSnapshot:
        """Everything the core compares, read now."""
        products = await self._catalogue()
        balances = await self._balances()
        raw_positions = cb.decode(await self._get(f"{API}/cfm/positions"), cb.ListPositionsResponse)
        futures = {p.product_id: s.signed_contracts(p) for p in raw_positions.positions}
        open_orders = tuple(
            s.to_order(o) for o in await self._orders({"order_status": list(s.OPEN_STATUSES)})
        )
        for order in open_orders:
            self._coids[order.order_id] = order.client_order_id
        fills = await self._fills_since(fills_since_ns)
        return VenueSnapshot(
            balances=balances,
            futures={p: q for p, q in futures.items() if q},
            open_orders=open_orders,
            fills=tuple(fills),
            products=products,
        )

    async def _catalogue(self) -> dict[str, ProductRef]:
        now = self._clock()
        if not self._products or now - self._products_ns > self._settings.products_refresh_s * 1e9:
            page = cb.decode(await self._get(f"{API}/products"), cb.ListProductsResponse)
            self._products = {p.product_id: s.to_product(p) for p in page.products}
            self._products_ns = now
        return self._products

    async def _balances(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        params: dict[str, Any] = {"limit": 250}
        while True:
            page = cb.decode(await self._get(f"{API}/accounts", params), cb.ListAccountsResponse)
            for acct in page.accounts:
                hold = dec_or_zero(acct.hold.value) if acct.hold is not None else ZERO
                out[acct.currency] = (
                    out.get(acct.currency, ZERO) + dec_or_zero(acct.available_balance.value) + hold
                )
            if not page.has_next or not page.cursor:
                return out
            params["cursor"] = page.cursor

    async def _orders(self, params: dict[str, Any]) -> list[cb.RestOrder]:
        params = {**params, "limit": self._settings.page_size}
        out: list[cb.RestOrder] = []
        while True:
            page = cb.decode(await self._get(f"{API}/orders/historical/batch", params), cb.ListOrdersResponse)
            out.extend(page.orders)
            if not page.has_next or not page.cursor:
                return out
            params["cursor"] = page.cursor

    async def _fill_pages(self, params: dict[str, Any], since_ns: int = 0) -> list[cb.RestFill]:
        params = {**params, "limit": self._settings.page_size}
        out: list[cb.RestFill] = []
        while True:
            page = cb.decode(await self._get(f"{API}/orders/historical/fills", params), cb.ListFillsResponse)
            out.extend(f for f in page.fills if s.fill_time_ns(f) >= since_ns)
            past = any(s.fill_time_ns(f) < since_ns for f in page.fills)
            if past or not page.cursor or not page.fills:
                return out
            params["cursor"] = page.cursor

    async def _fills_since(self, since_ns: int) -> list[VenueFill]:
        raw = await self._fill_pages({"start_sequence_timestamp": to_rfc3339(since_ns)}, since_ns)
        for order_id in sorted({f.order_id for f in raw} - set(self._coids)):
            reply = await self._get(f"{API}/orders/historical/{order_id}", missing_ok=True)
            self._coids[order_id] = (
                cb.decode(reply, cb.GetOrderResponse).order.client_order_id if reply else ""
            )
        unique = {f.trade_id: s.to_fill(f, self._coids.get(f.order_id, "")) for f in raw}
        return sorted(unique.values(), key=lambda f: (f.time_ns, f.trade_id))

    # ---- look-ups ----
    async def look_up(self, refs: Sequence[OrderRef]) -> dict[str, VenueOrder | None]:
        """By venue id when known; otherwise one list per product since the oldest order's time."""
        found: dict[str, cb.RestOrder | None] = {}
        by_product: dict[str, list[OrderRef]] = {}
        for ref in refs:
            if ref.venue_order_id:
                reply = await self._get(f"{API}/orders/historical/{ref.venue_order_id}", missing_ok=True)
                found[ref.client_order_id] = cb.decode(reply, cb.GetOrderResponse).order if reply else None
            else:
                by_product.setdefault(ref.product_id, []).append(ref)
        for product, group in sorted(by_product.items()):
            since = min(r.created_ns or self._clock() for r in group) - self._lookback_ns
            wanted = {r.client_order_id for r in group}
            listed = await self._orders({"product_ids": [product], "start_date": to_rfc3339(since)})
            matches = {o.client_order_id: o for o in listed if o.client_order_id in wanted}
            found.update({coid: matches.get(coid) for coid in wanted})
        out: dict[str, VenueOrder | None] = {}
        for coid, raw in sorted(found.items()):
            if raw is None:
                out[coid] = None
                continue
            self._coids[raw.order_id] = raw.client_order_id
            fills: tuple[VenueFill, ...] = ()
            if dec_or_zero(raw.filled_size) > ZERO:
                pages = await self._fill_pages({"order_ids": [raw.order_id]})
                fills = tuple(s.to_fill(f, coid) for f in pages)
            out[coid] = s.to_order(raw, fills)
        return out

    async def close(self) -> None:
        """The SDK's session is closed with the client."""
        self._client.session.close()
