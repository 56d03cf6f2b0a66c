"""The live reader over a hand-written fake SDK client: paging, the cursor, attribution, 404s."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from services.reconciliation.config import LiveReaderSettings
from services.reconciliation.model import OrderRef
from services.reconciliation.venues import schemas
from services.reconciliation.venues.base import VenueReadError
from services.reconciliation.venues.live import API, LiveReader
from shared.coinbase.parse import rfc3339_ns
from shared.coinbase.schemas import RestOrder
from shared.messages import OrderStatus, Side

D = Decimal


def ts(second: int) -> str:
    return f"2026-11-24T10:00:{second:02d}.5Z"


def raw_fill(trade: str, order: str, second: int, side: str = "BUY") -> dict[str, Any]:
    return {
        "trade_id": trade,
        "order_id": order,
        "product_id": "BTC-USD",
        "price": "100",
        "size": "0.1",
        "commission": "0.09",
        "liquidity_indicator": "MAKER",
        "side": side,
        "trade_time": ts(second),
        "sequence_timestamp": ts(second),
    }


class FakeClient:
    """Answers GETs from canned pages; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.session = requests.Session()
        self.fills = [raw_fill("t3", "o2", 30, "SELL"), raw_fill("t2", "o1", 20), raw_fill("t1", "o1", 10)]
        self.orders = {
            "o1": {
                "order_id": "o1",
                "client_order_id": "c1",
                "product_id": "BTC-USD",
                "side": "BUY",
                "status": "FILLED",
                "filled_size": "0.2",
                "average_filled_price": "100",
            },
            "o2": {
                "order_id": "o2",
                "client_order_id": "",
                "product_id": "BTC-USD",
                "side": "SELL",
                "status": "FILLED",
                "filled_size": "0.1",
            },
        }

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        params = dict(params or {})
        self.calls.append((path, params))
        if path == f"{API}/accounts":
            if params.get("cursor") == "2":
                return {
                    "accounts": [
                        {"currency": "BTC", "available_balance": {"value": "0.5"}, "hold": {"value": "0.25"}}
                    ],
                    "has_next": False,
                }
            return {
                "accounts": [{"currency": "USD", "available_balance": {"value": "10"}}],
                "has_next": True,
                "cursor": "2",
            }
        if path == f"{API}/cfm/positions":
            return {"positions": [{"product_id": "BIT-FUT", "side": "SHORT", "number_of_contracts": "3"}]}
        if path == f"{API}/products":
            return {
                "products": [
                    {"product_id": "BTC-USD", "base_currency_id": "BTC", "quote_currency_id": "USD"},
                    {"product_id": "BIT-FUT", "product_type": "FUTURE", "base_increment": "1"},
                ]
            }
        if path == f"{API}/orders/historical/batch":
            if "order_status" in params:
                return {
                    "orders": [
                        {
                            "order_id": "o9",
                            "client_order_id": "c9",
                            "status": "OPEN",
                            "filled_size": "0.05",
                            "side": "BUY",
                        }
                    ]
                }
            return {"orders": list(self.orders.values()), "has_next": False}
        if path == f"{API}/orders/historical/fills":
            rows = [
                f for f in self.fills if not params.get("order_ids") or f["order_id"] in params["order_ids"]
            ]
            start = int(params.get("cursor") or 0)
            page = rows[start : start + 1]
            more = start + 1 < len(rows)
            return {"fills": page, "cursor": str(start + 1) if more else ""}
        if path.startswith(f"{API}/orders/historical/"):
            order_id = path.rsplit("/", 1)[1]
            if order_id not in self.orders:
                response = requests.Response()
                response.status_code = 404
                raise requests.HTTPError("not found", response=response)
            return {"order": self.orders[order_id]}
        raise AssertionError(path)


def reader(client: FakeClient) -> LiveReader:
    settings = LiveReaderSettings(read_attempts=2, retry_delay_s=0, page_size=1)
    return LiveReader(client, settings, order_lookback_s=60, clock=lambda: 10**18)  # type: ignore[arg-type]


async def test_snapshot_pages_wallets_and_reads_fills_back_to_the_cursor() -> None:
    client = FakeClient()
    snap = await reader(client).snapshot(rfc3339_ns(ts(20)))
    assert snap.balances == {"USD": D(10), "BTC": D("0.75")}
    assert snap.futures == {"BIT-FUT": D(-3)}
    assert snap.products["BIT-FUT"].is_future
    (open_order,) = snap.open_orders
    assert (open_order.client_order_id, open_order.status) == ("c9", OrderStatus.PARTIALLY_FILLED)
    assert [(f.trade_id, f.client_order_id, f.side) for f in snap.fills] == [
        ("t2", "c1", Side.BUY),
        ("t3", "", Side.SELL),
    ]
    fill_pages = [p for path, p in client.calls if path.endswith("/fills")]
    assert len(fill_pages) == 3  # the third page is older than the cursor: paging stops there


async def test_look_up_by_client_id_or_venue_id_with_fills_and_missing_orders() -> None:
    client = FakeClient()
    live = reader(client)
    found = await live.look_up(
        [
            OrderRef(client_order_id="c1", product_id="BTC-USD", created_ns=10**18),
            OrderRef(client_order_id="gone", product_id="BTC-USD", venue_order_id="nope"),
            OrderRef(client_order_id="never", product_id="BTC-USD"),
        ]
    )
    assert found["gone"] is None
    assert found["never"] is None
    c1 = found["c1"]
    assert c1 is not None
    assert (c1.status, c1.filled_size, len(c1.fills)) == (OrderStatus.FILLED, D("0.2"), 2)


async def test_client_errors_fail_at_once_and_others_are_retried() -> None:
    class Broken(FakeClient):
        def __init__(self, status: int) -> None:
            super().__init__()
            self.status = status

        def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
            self.calls.append((path, {}))
            response = requests.Response()
            response.status_code = self.status
            raise requests.HTTPError("boom", response=response)

    forbidden = Broken(403)
    with pytest.raises(VenueReadError):
        await reader(forbidden).snapshot(0)
    assert len(forbidden.calls) == 1
    busy = Broken(503)
    with pytest.raises(VenueReadError):
        await reader(busy).snapshot(0)
    assert len(busy.calls) == 2


def test_venue_statuses_map_to_ours() -> None:
    def status(raw: str, filled: str = "0") -> OrderStatus:
        return schemas.order_status(RestOrder(order_id="o", status=raw, filled_size=filled))

    assert status("OPEN") is OrderStatus.ACCEPTED
    assert status("QUEUED", "0.1") is OrderStatus.PARTIALLY_FILLED
    assert status("FAILED") is OrderStatus.REJECTED
    assert status("EXPIRED") is OrderStatus.EXPIRED
    assert status("UNKNOWN_ORDER_STATUS") is OrderStatus.UNKNOWN
    assert rfc3339_ns("2026-11-24T10:00:00.000000001Z") % 1_000_000_000 == 1
    assert rfc3339_ns("garbage") == 0
