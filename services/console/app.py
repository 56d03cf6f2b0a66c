"""The console's web app (aiohttp): the page, its JSON, live updates by server-sent events
(aiohttp-sse), a login in an encrypted cookie (aiohttp-session, Fernet), and the actions.

Reading needs no login; every action does, and is refused with 401 otherwise. Actions are JSON
POSTs and the session cookie is SameSite=Strict, so another site cannot make a browser send one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_sse import sse_response
from cryptography.fernet import Fernet

from services.console.auth import Login, LoginMode

STATIC = Path(__file__).parent / "static"
COOKIE = "algopioneer_console"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Actions(Protocol):
    """What the page may ask of the stack (each answers `(ok, detail)`)."""

    async def halt(self, reason: str, operator: str) -> tuple[bool, str]: ...

    async def resume(self, reason: str, operator: str) -> tuple[bool, str]: ...

    async def set_enabled(self, strategy_id: str, enabled: bool) -> tuple[bool, str]: ...


class Source(Protocol):
    """Where the page's JSON comes from, and the live updates."""

    def snapshot(self) -> dict[str, Any]: ...

    def listen(self) -> asyncio.Queue[str]:
        """A queue that receives every live update (JSON text) until `forget`; "" means the end."""
        ...

    def forget(self, queue: asyncio.Queue[str]) -> None: ...


KEY_SOURCE = web.AppKey("source", Source)
KEY_ACTIONS = web.AppKey("actions", Actions)
KEY_LOGIN = web.AppKey("login", Login)
KEY_HEADER = web.AppKey("trusted_header", str)


async def operator_of(request: web.Request) -> str:
    """Who is logged in on this request, or "" (read-only)."""
    login = request.app[KEY_LOGIN]
    if login.mode is LoginMode.PROXY:
        return request.headers.get(request.app[KEY_HEADER], "").strip()
    session = await aiohttp_session.get_session(request)
    return str(session.get("operator", ""))


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def state(request: web.Request) -> web.Response:
    return web.json_response(request.app[KEY_SOURCE].snapshot(), dumps=json.dumps)


async def events(request: web.Request) -> web.StreamResponse:
    """The whole state once, then every live update, until the page goes away."""
    source = request.app[KEY_SOURCE]
    queue = source.listen()
    try:
        async with sse_response(request) as stream:
            await stream.send(json.dumps(source.snapshot()), event="state")
            while stream.is_connected():
                update = await queue.get()
                if not update:  # the service is stopping
                    break
                await stream.send(update, event="state")
    finally:
        source.forget(queue)
    return stream


async def session_info(request: web.Request) -> web.Response:
    login = request.app[KEY_LOGIN]
    operator = await operator_of(request)
    return web.json_response(
        {
            "operator": operator,
            "logged_in": bool(operator),
            "mode": login.mode.value,
            "problem": login.problem,
        }
    )


async def _body(request: web.Request) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        body = await request.json()
        if isinstance(body, dict):
            return body
    raise web.HTTPBadRequest(text="expected a JSON object")


async def login(request: web.Request) -> web.Response:
    settled = request.app[KEY_LOGIN]
    if settled.mode is not LoginMode.PASSWORD:
        raise web.HTTPConflict(text=f"password login is off (login: {settled.mode.value})")
    password = str((await _body(request)).get("password", ""))
    # scrypt takes ~50 ms of CPU: off the event loop, so a guessing client cannot stall the page.
    if not await asyncio.to_thread(settled.check, password):
        raise web.HTTPUnauthorized(text="wrong password")
    session = await aiohttp_session.new_session(request)
    session["operator"] = "operator"
    return web.json_response({"operator": "operator", "logged_in": True})


async def logout(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session.invalidate()
    return web.json_response({"logged_in": False})


def _action(run: Callable[[web.Request, dict[str, Any], str], Awaitable[tuple[bool, str]]]) -> Handler:
    """An action handler: refused (401) without a login, else its `(ok, detail)` as JSON."""

    async def handle(request: web.Request) -> web.Response:
        operator = await operator_of(request)
        if not operator:
            raise web.HTTPUnauthorized(text="log in to act")
        ok, detail = await run(request, await _body(request), operator)
        return web.json_response({"ok": ok, "detail": detail}, status=200 if ok else 409)

    return handle


async def _halt(request: web.Request, body: dict[str, Any], operator: str) -> tuple[bool, str]:
    reason = str(body.get("reason", "")).strip() or "halted from the console"
    return await request.app[KEY_ACTIONS].halt(reason, operator)


async def _resume(request: web.Request, body: dict[str, Any], operator: str) -> tuple[bool, str]:
    reason = str(body.get("reason", "")).strip() or "resumed from the console"
    return await request.app[KEY_ACTIONS].resume(reason, operator)


async def _stop(request: web.Request, _: dict[str, Any], __: str) -> tuple[bool, str]:
    return await request.app[KEY_ACTIONS].set_enabled(request.match_info["sid"], False)


async def _start(request: web.Request, _: dict[str, Any], __: str) -> tuple[bool, str]:
    return await request.app[KEY_ACTIONS].set_enabled(request.match_info["sid"], True)


def build_app(
    source: Source, actions: Actions, login_: Login, *, trusted_header: str, ttl_s: int
) -> web.Application:
    """The whole web app; a new session key each start (a restart logs everyone out)."""
    app = web.Application()
    storage = EncryptedCookieStorage(
        Fernet(Fernet.generate_key()), cookie_name=COOKIE, max_age=ttl_s, httponly=True, samesite="Strict"
    )
    aiohttp_session.setup(app, storage)
    app[KEY_SOURCE] = source
    app[KEY_ACTIONS] = actions
    app[KEY_LOGIN] = login_
    app[KEY_HEADER] = trusted_header
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/session", session_info)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_post("/api/halt", _action(_halt))
    app.router.add_post("/api/resume", _action(_resume))
    app.router.add_post("/api/instances/{sid}/stop", _action(_stop))
    app.router.add_post("/api/instances/{sid}/start", _action(_start))
    return app
