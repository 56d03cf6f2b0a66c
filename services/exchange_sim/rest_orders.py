"""Order endpoints: create (with idempotency and after-accept faults), get, list, batch cancel, fills."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from services.exchange_sim.http_util import (
    bad_request,
    json_body,
    json_response,
    not_found,
    paged,
    query_int,
    query_list,
)
from services.exchange_sim.render import fill_json, order_json
from services.exchange_sim.state import SimState
from shared.errors import OrderRejectedError
from shared.timefmt import parse_rfc3339_ns
from shared.venue import Order, parse_order_request

P = "/api/v3/brokerage"


def _reject_body(body: dict[str, Any], exc: OrderRejectedError) -> dict[str, Any]:
    return {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {
            "error": exc.reason,
            "message": exc.detail,
            "error_details": exc.detail,
            "preview_failure_reason": exc.preview_reason,
            "new_order_failure_reason": exc.reason,
        },
        "order_configuration": body.get("order_configuration") or {},
    }


class OrderRoutes:
    """Handlers for `/orders...`."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    async def create(self, request: web.Request) -> web.Response:
        return await self._place(await json_body(request))

    async def close_position(self, request: web.Request) -> web.Response:
        """Market IOC against the whole (or `size` of the) futures position, answered like create."""
        body = await json_body(request)
        pid = str(body.get("product_id", ""))
        account = self.state.venue.account(self.state.account_id)
        pos = account.positions.get(pid)
        if pos is None or pos.contracts == 0:
            return json_response(
                _reject_body(body, OrderRejectedError("INVALID_REQUEST", f"no open position in {pid}"))
            )
        size = str(body.get("size") or abs(pos.contracts))
        order_body = {
            "client_order_id": body.get("client_order_id", ""),
            "product_id": pid,
            "side": "SELL" if pos.contracts > 0 else "BUY",
            "order_configuration": {"market_market_ioc": {"base_size": size}},
        }
        return await self._place(order_body)

    async def _place(self, body: dict[str, Any]) -> web.Response:
        state = self.state
        forced = state.faults.take_reject()
        try:
            if forced:
                raise OrderRejectedError(forced, f"rejected by fault injection ({forced})")
            order_request = parse_order_request(body, account_id=state.account_id)
            result = state.venue.submit(order_request, state.now_ns())
        except OrderRejectedError as exc:
            return json_response(_reject_body(body, exc))
        state.publish()
        fault = state.faults.take_after_accept()
        if fault is not None:
            if fault.mode == "timeout":
                await asyncio.sleep(fault.delay_s)
                raise web.HTTPGatewayTimeout(
                    text=json.dumps({"error": "DEADLINE_EXCEEDED", "message": "timeout"})
                )
            status = int(fault.mode) if fault.mode.isdigit() else 500
            return json_response({"error": "INTERNAL", "message": "internal error"}, status=status)
        order = result.order
        return json_response(
            {
                "success": True,
                "success_response": {
                    "order_id": order.order_id,
                    "product_id": order.product_id,
                    "side": order.side.value,
                    "client_order_id": order.request.client_order_id,
                    "attached_order_id": "",
                },
                "order_configuration": order.request.configuration,
            }
        )

    async def get(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        order = self.state.venue.orders.get(order_id)
        if order is None or order.account_id != self.state.account_id:
            raise not_found("order with this orderID was not found")
        return json_response({"order": order_json(order, self.state.venue)})

    def _filter(self, request: web.Request) -> list[Order]:
        ids = set(query_list(request, "order_ids"))
        products = set(query_list(request, "product_ids"))
        statuses = set(query_list(request, "order_status"))
        tifs = set(query_list(request, "time_in_forces"))
        types = set(query_list(request, "order_types"))
        side = request.query.get("order_side")
        ptype = request.query.get("product_type")
        start = request.query.get("start_date")
        end = request.query.get("end_date")
        try:
            start_ns = parse_rfc3339_ns(start) if start else None
            end_ns = parse_rfc3339_ns(end) if end else None
        except ValueError:
            raise bad_request("invalid start_date or end_date") from None
        venue = self.state.venue
        out = []
        for order in reversed(venue.orders.values()):
            if order.account_id != self.state.account_id:
                continue
            req = order.request
            if (
                (ids and order.order_id not in ids)
                or (products and order.product_id not in products)
                or (statuses and order.status.value not in statuses)
                or (tifs and req.time_in_force.value not in tifs)
                or (types and req.order_type.value not in types)
                or (side and order.side.value != side)
                or (ptype and venue.products[order.product_id].product_type.value != ptype)
                or (start_ns is not None and order.created_ns < start_ns)
                or (end_ns is not None and order.created_ns >= end_ns)
            ):
                continue
            out.append(order)
        return out

    async def list_orders(self, request: web.Request) -> web.Response:
        orders = self._filter(request)
        limit = query_int(request, "limit", 1000) or 1000
        page, cursor, has_next = paged(orders, request.query.get("cursor"), limit)
        return json_response(
            {
                "orders": [order_json(o, self.state.venue) for o in page],
                "sequence": "0",
                "has_next": has_next,
                "cursor": cursor,
            }
        )

    async def batch_cancel(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        ids = body.get("order_ids")
        if not isinstance(ids, list) or not ids:
            raise bad_request("order_ids is required")
        if len(ids) > 100:
            raise bad_request("at most 100 order_ids per request")
        results = []
        now = self.state.now_ns()
        for order_id in ids:
            if self._race(str(order_id), now):
                results.append(
                    {
                        "success": True,
                        "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON",
                        "order_id": str(order_id),
                    }
                )
                continue
            reason = self.state.venue.cancel(str(order_id), now, account_id=self.state.account_id)
            results.append(
                {
                    "success": reason is None,
                    "failure_reason": reason or "UNKNOWN_CANCEL_FAILURE_REASON",
                    "order_id": str(order_id),
                }
            )
        self.state.publish()
        return json_response({"results": results})

    def _race(self, order_id: str, now: int) -> bool:
        """Cancel-race fault: the cancel is accepted, but a fill at the limit price lands first."""
        order = self.state.venue.orders.get(order_id)
        if self.state.faults.cancel_races <= 0 or order is None or not order.in_book:
            return False
        self.state.faults.cancel_races -= 1
        venue = self.state.venue
        venue.take_liquidity(order.product_id, order.side.opposite, order.leaves_size, order.price, now)
        return True

    async def fills(self, request: web.Request) -> web.Response:
        order_ids = set(query_list(request, "order_ids"))
        trade_ids = set(query_list(request, "trade_ids"))
        products = set(query_list(request, "product_ids"))
        now = self.state.now_ns()
        fills = [
            f
            for f in reversed(self.state.venue.fills)
            if f.account_id == self.state.account_id
            and self.state.faults.shown(f, now)
            and (not order_ids or f.order_id in order_ids)
            and (not trade_ids or f.trade_id in trade_ids)
            and (not products or f.product_id in products)
        ]
        limit = query_int(request, "limit", 100) or 100
        page, cursor, _ = paged(fills, request.query.get("cursor"), limit)
        return json_response({"fills": [fill_json(f) for f in page], "cursor": cursor})

    def routes(self) -> list[web.RouteDef]:
        """Static paths first: aiohttp matches in registration order."""
        return [
            web.post(f"{P}/orders", self.create),
            web.post(f"{P}/orders/batch_cancel", self.batch_cancel),
            web.post(f"{P}/orders/close_position", self.close_position),
            web.get(f"{P}/orders/historical/batch", self.list_orders),
            web.get(f"{P}/orders/historical/fills", self.fills),
            web.get(f"{P}/orders/historical/{{order_id}}", self.get),
        ]
