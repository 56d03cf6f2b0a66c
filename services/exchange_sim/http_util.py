"""Small request/response helpers shared by the REST handlers."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from services.exchange_sim.render import error_body


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def json_response(data: Any, *, status: int = 200) -> web.Response:
    """Compact JSON like Coinbase's (the SDK matches `"error_details":"Missing required scopes"`)."""
    return web.json_response(data, status=status, dumps=_compact)


def query_list(request: web.Request, name: str) -> list[str]:
    """A repeated query key (`?k=a&k=b`, also `k[]=`), as the SDK sends list parameters."""
    values = request.query.getall(name, []) + request.query.getall(f"{name}[]", [])
    return [v for raw in values for v in raw.split(",") if v]


def query_bool(request: web.Request, name: str) -> bool:
    """`true`/`True`/`false`/`False` (the SDK sends Python booleans verbatim)."""
    return request.query.get(name, "false").lower() == "true"


def query_int(request: web.Request, name: str, default: int) -> int:
    """An integer query parameter; a bad value is a 400 like Coinbase's."""
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"invalid {name} {raw!r}") from None


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (GETs from the SDK carry `{}`); 400 when it is not an object."""
    text = await request.text()
    if not text.strip():
        return {}
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        raise bad_request("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def bad_request(details: str) -> web.HTTPBadRequest:
    """400 INVALID_ARGUMENT with Coinbase's body shape."""
    return web.HTTPBadRequest(
        text=_compact(error_body("INVALID_ARGUMENT", details)), content_type="application/json"
    )


def not_found(details: str) -> web.HTTPNotFound:
    """404 NOT_FOUND with Coinbase's body shape."""
    return web.HTTPNotFound(text=_compact(error_body("NOT_FOUND", details)), content_type="application/json")


def paged(items: list[Any], cursor: str | None, limit: int) -> tuple[list[Any], str, bool]:
    """Offset cursor paging: (page, next cursor or "", has_next)."""
    start = int(cursor) if cursor and cursor.isdigit() else 0
    page = items[start : start + limit]
    has_next = start + limit < len(items)
    return page, (str(start + limit) if has_next else ""), has_next
