"""A local webhook (what Apprise's `json://` posts to) and a NATS client that records the server's
permission errors, for the notification tests."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from shared.bus import Bus
from shared.config import NatsSettings
from shared.nats import auth

DIGEST = re.compile(r"^… and (\d+) more fills in the last \d+ s")


class Webhook:
    """An aiohttp server on 127.0.0.1 keeping every JSON body posted to /hook."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> Webhook:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The Apprise URL of this webhook."""
        return f"json://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        self.posts.append(await request.json())
        return web.Response(text="ok")

    def titled(self, part: str) -> list[dict[str, Any]]:
        return [p for p in self.posts if part in p["title"]]

    def fills_told(self) -> tuple[int, int]:
        """(fill messages posted, fills they account for: one each, or a digest's count plus its own)."""
        posts = self.titled("Fill ")
        told = 0
        for post in posts:
            digest = DIGEST.match(post["message"])
            told += int(digest.group(1)) if digest else 1
        return len(posts), told


class Recorded:
    """A bus logged in as one user of the generated local config, with permission errors recorded."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        bus.nc._error_cb = on_error  # the bus only logs them; the test wants to see them

    @classmethod
    async def connect(cls, url: str, user: str) -> Recorded:
        return cls(await Bus.connect(login(url, user), service=user))

    @property
    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]


def login(url: str, user: str) -> NatsSettings:
    """Settings for `user` on the local server config (password `<user>-local`)."""
    return NatsSettings(url=url, user=user, password=auth.local_password(user), connect_timeout_s=2.0)
