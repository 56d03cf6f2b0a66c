"""A minimal service on the shared runtime, used to test the runtime itself."""

from __future__ import annotations

import sys

from shared import messages as m
from shared.config import ServiceSettings
from shared.runtime import ServiceContext, run_service


class EchoSettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Settings of the echo service."""

    greeting: str = "hello"
    max_items: int = 10

    def __post_init__(self) -> None:
        if self.max_items < 1:
            raise ValueError("max_items must be at least 1")


class Echo:
    """Answers control commands with its greeting."""

    def __init__(self, settings: EchoSettings) -> None:
        self.settings = settings

    async def start(self, ctx: ServiceContext) -> None:
        async def answer(cmd: m.ControlCommand) -> m.ControlReply:
            return m.ControlReply(ok=True, detail=self.settings.greeting)

        await ctx.bus.serve("test.echo", m.ControlCommand, answer)
        ctx.add_ready_detail("greeting", lambda: self.settings.greeting)

    async def stop(self) -> None:
        return None


if __name__ == "__main__":
    sys.exit(run_service("echo", EchoSettings, Echo))
