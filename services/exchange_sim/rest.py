"""The REST application: fault/latency middleware, JWT auth for private endpoints, the route tables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.exchange_sim.auth import bearer_token, verify_jwt
from services.exchange_sim.control import CONTROL_PREFIX, SimControl
from services.exchange_sim.http_util import json_response
from services.exchange_sim.render import error_body
from services.exchange_sim.rest_accounts import AccountRoutes
from services.exchange_sim.rest_market import MarketRoutes
from services.exchange_sim.rest_orders import OrderRoutes
from services.exchange_sim.state import SimState
from shared.throttle import Throttle

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/api/v3/brokerage"
PUBLIC = (f"{API}/market/", f"{API}/time")
HTML_429 = (
    "<html><head><title>429 Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>"
)


def is_public(path: str) -> bool:
    """Public endpoints need no JWT (`/market/...` and `/time`)."""
    return path.startswith(PUBLIC)


def _fault_response(status: int, body: str) -> web.Response:
    if body == "html":
        return web.Response(
            status=status,
            text=HTML_429 if status == 429 else f"<html><body>{status}</body></html>",
            content_type="text/html",
        )
    if status == 401:
        return web.Response(status=401, text="Unauthorized", content_type="text/plain")
    payload: dict[str, object] = {"error": "INTERNAL", "message": "internal error"}
    if status == 429:
        payload = {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]}
    elif status == 403:
        payload = dict(error_body("PERMISSION_DENIED", "Missing required scopes"))
    return json_response(payload, status=status)


def build_app(state: SimState, control: SimControl) -> web.Application:
    """The TLS REST app (the control routes ride on the same server, without auth)."""
    cfg = state.config
    buckets = {
        True: Throttle(cfg.rate_limit_public_per_s) if cfg.rate_limit_public_per_s else None,
        False: Throttle(cfg.rate_limit_private_per_s) if cfg.rate_limit_private_per_s else None,
    }

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API):
            return await handler(request)
        if state.faults.latency_s:
            await asyncio.sleep(state.faults.latency_s)
        bucket = buckets[is_public(request.path)]
        if bucket is not None and not bucket.take(time.monotonic()):
            return _fault_response(429, "json")
        fault = state.faults.take_rest(request.path)
        if fault is not None:
            if fault.body == "timeout" or fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            return _fault_response(fault.status, fault.body)
        return await handler(request)

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(API) and not is_public(request.path):
            token = bearer_token(request.headers.get("Authorization"))
            uri = f"{request.method} {request.host}{request.path}"
            creds = state.creds
            if token is None or not verify_jwt(
                token,
                public_key=creds.public_key,
                key_name=creds.key_name,
                uri=uri,
                leeway_s=state.config.jwt_leeway_s,
            ):
                return web.Response(status=401, text="Unauthorized", content_type="text/plain")
        return await handler(request)

    async def health(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    app = web.Application(middlewares=[faults, auth])
    app.add_routes([web.get("/health", health)])
    app.add_routes(MarketRoutes(state).routes())
    app.add_routes(OrderRoutes(state).routes())
    app.add_routes(AccountRoutes(state).routes())
    app.add_routes(control.routes())
    assert CONTROL_PREFIX.startswith("/_sim")
    return app
