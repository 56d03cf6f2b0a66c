"""Product and market-data endpoints (private and `/market/...` public variants, plus `/time`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from services.exchange_sim.http_util import bad_request, json_response, not_found, query_int, query_list
from services.exchange_sim.render import fmt, product_json, rfc3339
from services.exchange_sim.state import GRANULARITY_S, SimState
from shared.messages import Side
from shared.venue import Product

P = "/api/v3/brokerage"
MAX_CANDLES = 350


def _levels(levels: list[tuple[Decimal, Decimal]]) -> list[dict[str, str]]:
    return [{"price": fmt(p), "size": fmt(s)} for p, s in levels]


class MarketRoutes:
    """Handlers for products, candles, trades, books and time."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def _product(self, request: web.Request, public: bool = False) -> Product:
        pid = request.match_info.get("product_id") or request.query.get("product_id", "")
        product = self.state.venue.products.get(pid)
        if product is None:
            raise not_found(f"Product {pid} not supported" if public else "valid product_id is required")
        return product

    def _is_public(self, request: web.Request) -> bool:
        return request.path.startswith(f"{P}/market/")

    async def products(self, request: web.Request) -> web.Response:
        venue = self.state.venue
        wanted = set(query_list(request, "product_ids"))
        ptype = request.query.get("product_type")
        if ptype and ptype not in ("SPOT", "FUTURE", "UNKNOWN_PRODUCT_TYPE"):
            raise web.HTTPBadRequest(
                text=f'{{"error":"unknown","error_details":"parsing field \\"product_type\\": \\"{ptype}\\" '
                f'is not a valid value","message":"invalid product_type"}}',
                content_type="application/json",
            )
        items = [
            product_json(p, venue)
            for p in venue.products.values()
            if (not wanted or p.product_id in wanted) and (not ptype or p.product_type.value == ptype)
        ]
        offset = query_int(request, "offset", 0)
        limit = query_int(request, "limit", len(items)) or len(items)
        page = items[offset : offset + limit]
        has_next = offset + limit < len(items)
        return json_response(
            {
                "products": page,
                "num_products": len(items),
                "pagination": {
                    "prev_cursor": "",
                    "next_cursor": "",
                    "has_next": has_next,
                    "has_prev": offset > 0,
                },
            }
        )

    async def product(self, request: web.Request) -> web.Response:
        product = self._product(request, self._is_public(request))
        return json_response(product_json(product, self.state.venue))

    async def candles(self, request: web.Request) -> web.Response:
        product = self._product(request, self._is_public(request))
        granularity = request.query.get("granularity", "ONE_MINUTE")
        if granularity not in GRANULARITY_S:
            raise bad_request(f"invalid granularity {granularity}")
        step = GRANULARITY_S[granularity]
        start, end = query_int(request, "start", -1), query_int(request, "end", -1)
        if start < 0 or end < 0 or end < start:
            raise bad_request("start and end argument is invalid")
        limit = query_int(request, "limit", MAX_CANDLES)
        if (end - start) // step > MAX_CANDLES or limit > MAX_CANDLES:
            raise bad_request(
                "start and end argument is invalid - number of candles requested should be less than 350"
            )
        rows = self.state.candles.query(product.product_id, start, end, step)[:limit]
        return json_response(
            {
                "candles": [
                    {
                        "start": str(c.start),
                        "low": fmt(c.low),
                        "high": fmt(c.high),
                        "open": fmt(c.open),
                        "close": fmt(c.close),
                        "volume": fmt(c.volume),
                    }
                    for c in rows
                ]
            }
        )

    async def market_trades(self, request: web.Request) -> web.Response:
        product = self._product(request, self._is_public(request))
        limit = min(max(query_int(request, "limit", 100), 1), 100)
        trades = list(self.state.venue.trades[product.product_id])[-limit:][::-1]
        book = self.state.venue.books[product.product_id]
        return json_response(
            {
                "trades": [
                    {
                        "trade_id": t.trade_id,
                        "product_id": t.product_id,
                        "price": fmt(t.price),
                        "size": fmt(t.size),
                        "time": rfc3339(t.time_ns),
                        "side": t.side.value,
                        "exchange": "coinbase",
                    }
                    for t in trades
                ],
                "best_bid": fmt(book.best_bid() or Decimal(0)),
                "best_ask": fmt(book.best_ask() or Decimal(0)),
            }
        )

    async def best_bid_ask(self, request: web.Request) -> web.Response:
        venue = self.state.venue
        ids = query_list(request, "product_ids") or list(venue.products)
        now = rfc3339(self.state.now_ns())
        books = []
        for pid in ids:
            if pid not in venue.products:
                raise not_found("valid product_id is required")
            book = venue.books[pid]
            books.append(
                {
                    "product_id": pid,
                    "bids": _levels(book.levels(Side.BUY, 1)),
                    "asks": _levels(book.levels(Side.SELL, 1)),
                    "time": now,
                }
            )
        return json_response({"pricebooks": books})

    async def product_book(self, request: web.Request) -> web.Response:
        if not request.query.get("product_id"):
            raise bad_request("product_id is required")
        product = self._product(request, self._is_public(request))
        depth = min(query_int(request, "limit", 1000) or 1000, 1000)
        book = self.state.venue.books[product.product_id]
        bid, ask = book.best_bid(), book.best_ask()
        body: dict[str, Any] = {
            "pricebook": {
                "product_id": product.product_id,
                "bids": _levels(book.levels(Side.BUY, depth)),
                "asks": _levels(book.levels(Side.SELL, depth)),
                "time": rfc3339(self.state.now_ns()),
            },
        }
        if bid is not None and ask is not None:
            mid = (bid + ask) / 2
            body.update(
                last=fmt(self.state.venue.last_price.get(product.product_id, mid)),
                mid_market=fmt(mid),
                spread_bps=fmt((ask - bid) / mid * 10_000),
                spread_absolute=fmt(ask - bid),
            )
        return json_response(body)

    async def server_time(self, request: web.Request) -> web.Response:
        now = time.time()
        iso = datetime.fromtimestamp(now, tz=UTC).isoformat().replace("+00:00", "Z")
        return json_response({"iso": iso, "epochSeconds": str(int(now)), "epochMillis": str(int(now * 1000))})

    def routes(self) -> list[web.RouteDef]:
        """Route table: every product route also under the public `/market` prefix."""
        out = [web.get(f"{P}/time", self.server_time)]
        for prefix in (P, f"{P}/market"):
            out += [
                web.get(f"{prefix}/products", self.products),
                web.get(f"{prefix}/products/{{product_id}}", self.product),
                web.get(f"{prefix}/products/{{product_id}}/candles", self.candles),
                web.get(f"{prefix}/products/{{product_id}}/ticker", self.market_trades),
                web.get(f"{prefix}/product_book", self.product_book),
            ]
        out.append(web.get(f"{P}/best_bid_ask", self.best_bid_ask))
        return out
