"""`algopioneer status` and `algopioneer dashboard`: the operator's view of the running stack."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live

from services.cli.stack_client import connect
from services.cli.view import StackView


async def collect(listen_s: float) -> StackView:
    """KV state plus whatever the stack publishes during `listen_s` seconds (feeds, instances)."""
    view = StackView()
    async with connect() as bus:
        await view.load(bus)
        await view.follow(bus)
        await asyncio.sleep(listen_s)
        await view.load_grid(bus)
    return view


async def run_dashboard(
    refresh_s: float = 1.0,
    stop: asyncio.Event | None = None,
    url: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> None:
    """Keep a live view on the terminal until `stop` is set (or Ctrl-C)."""
    view = StackView()
    async with connect(url, credentials) as bus:
        await view.load(bus)
        await view.load_grid(bus)
        await view.follow(bus)
        with Live(view.render(), console=Console(), refresh_per_second=4, screen=False) as live:
            waiter = stop or asyncio.Event()
            while not waiter.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), refresh_s)
                await view.load(bus)
                await view.load_grid(bus)
                live.update(view.render())


def register(app: typer.Typer) -> None:
    """Add `status` and `dashboard`."""

    @app.command(
        help="Services, feed health, strategy instances (owner, state, position), breaker, kill switch, PnL."
        '\n\n--json prints: {"services": [{service, instance, ready, checks, age_s, details}],'
        ' "feeds": [FeedStatus], "instances": [{id, kind, products, mode, venue, enabled, owner, state,'
        ' position, last_signal, detail}], "risk": RiskState, "pnl": {total, realized, unrealized,'
        ' fees, by_strategy, by_product, positions}, "recent_orders": [...], "recent_fills": [...]}'
        " (Decimals as exact strings, never an exponent; the table rounds money to cents).\n\nExample: algopioneer status --json"
    )
    def status(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        listen: Annotated[float, typer.Option(help="Seconds to listen for live status.")] = 1.5,
    ) -> None:
        """Show the running stack (see the command help for the JSON shape)."""
        view = asyncio.run(collect(listen))
        if as_json:
            typer.echo(json.dumps(view.to_json(), default=str))
        else:
            Console().print(view.render())

    @app.command()
    def dashboard(refresh: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0) -> None:
        """A live terminal view of the running stack (Ctrl-C to leave; the stack keeps running).

        Example: algopioneer dashboard
        """
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_dashboard(refresh))
