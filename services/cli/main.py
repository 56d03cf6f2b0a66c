"""Entry point of the `algopioneer` command: the operator's front door."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.cli import backtest, find_pairs, operate, positions, strategies, trading
from services.launcher import PERMISSIONS_CONF, Launcher, LauncherError, missing_live_limits
from shared import stackguard as guard
from shared.errors import BusUnavailableError, ConfigError
from shared.natsserver import NatsServerError
from shared.telemetry import configure_logging

app = typer.Typer(
    help="algopioneer: algorithmic trading for Coinbase Advanced Trade, as small services over NATS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """algopioneer: algorithmic trading for Coinbase Advanced Trade over NATS."""
    # Commands print their own results; library warnings stay off the terminal unless serious.
    configure_logging("cli", "error", to_stderr=True)


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("algopioneer"))


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where NATS keeps JetStream and services keep logs.")] = Path(
        "data"
    ),
    live: Annotated[bool, typer.Option("--live", help="Trade on Coinbase for real (needs keys).")] = False,
    nats_port: Annotated[int, typer.Option(help="NATS client port; 0 picks a free one.")] = 4222,
    portfolio: Annotated[
        Path | None, typer.Option(help="Specs to start on a fresh paper stack (default: the demo portfolio).")
    ] = None,
    no_portfolio: Annotated[bool, typer.Option("--no-portfolio", help="Start with no instances.")] = False,
    show: Annotated[
        bool, typer.Option("--dashboard/--no-dashboard", help="Live view on a terminal (logs go to files).")
    ] = True,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Start on an empty data folder: the current one is moved to <data-dir>.old-<time> "
            "(nothing is deleted; its positions, orders, strategy specs, logs and NATS passwords stay there).",
        ),
    ] = False,
) -> None:
    """Run the whole stack locally: NATS, the exchange simulator and every service, in paper mode.

    Examples:

      algopioneer up                 # paper trading against the bundled simulator

      algopioneer up --live          # real Coinbase (keys and risk limits from the environment or .env)

    Live refuses to start without explicit risk limits (max_position_notional, max_strategy_notional,
    max_gross_exposure, daily_loss_limit as ALGOPIONEER_RISK__LIMITS__<FIELD>, or [risk.limits] in the
    ALGOPIONEER_CONFIG file), and runs NATS on passwords generated for this install.

    One stack per data folder: while one runs, `up` says so (see `algopioneer down`). Should a
    launcher die without stopping its services (kill -9), they stop with it, and the next `up`
    stops whatever it left behind.
    """
    if live:
        refusal = _live_refusal()
        if refusal:
            typer.echo(refusal, err=True)
            raise typer.Exit(2)
    try:
        guard.refuse_if_running(data_dir)
        moved = guard.move_aside(data_dir) if fresh else None
        for note in guard.stop_leftovers(data_dir):
            typer.echo(f"stopped a leftover of a previous launcher: {note}", err=True)
    except guard.StackGuardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if moved is not None:
        typer.echo(f"--fresh: the previous data folder is now {moved}", err=True)
    dashboard = show and sys.stdout.isatty()
    data_dir.joinpath("logs").mkdir(parents=True, exist_ok=True)
    configure_logging("launcher", log_file=str(data_dir / "logs" / "launcher.log") if dashboard else None)
    from services.launcher import DEFAULT_PORTFOLIO

    seed = None if no_portfolio or live else (portfolio or DEFAULT_PORTFOLIO)
    launcher = Launcher(
        data_dir,
        profile="live" if live else "paper",
        nats_port=nats_port if nats_port else -1,
        portfolio=seed,
        nats_config=None if live else PERMISSIONS_CONF,  # live renders one from its own passwords
    )
    try:
        code = asyncio.run(_run_stack(launcher, dashboard))
    except (LauncherError, NatsServerError, BusUnavailableError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(code)


@app.command()
def down(
    data_dir: Annotated[Path, typer.Option(help="The data folder of the stack to stop.")] = Path("data"),
) -> None:
    """Stop the stack `algopioneer up` runs on this data folder (services first, NATS last), or what
    a launcher that died left running.

    Example: algopioneer down
    """
    try:
        typer.echo(guard.stop_stack(data_dir))
    except guard.StackGuardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _live_refusal() -> str | None:
    """Why `up --live` must not start (one line), checked before anything starts; None when it may."""
    from shared.config import CoinbaseCredentials

    if CoinbaseCredentials.from_environment() is None:  # also loads .env into the environment
        return "--live needs COINBASE_API_KEY and COINBASE_API_SECRET in the environment or .env"
    try:
        missing = missing_live_limits()
    except ConfigError as exc:
        return f"--live cannot read the risk limits: {exc}"
    if missing:
        return (
            f"--live needs explicit risk limits; missing: {', '.join(missing)} "
            "(set ALGOPIONEER_RISK__LIMITS__<FIELD> in the environment or .env, "
            "or [risk.limits] in the ALGOPIONEER_CONFIG file)"
        )
    return None


async def _run_stack(launcher: Launcher, dashboard: bool) -> int:
    """The launcher, plus the live operator view once the stack is up (when on a terminal)."""
    from services.cli.operate import run_dashboard

    running = asyncio.create_task(launcher.run())
    if dashboard:
        started = asyncio.create_task(launcher.started.wait())
        await asyncio.wait({running, started}, return_when=asyncio.FIRST_COMPLETED)
        if launcher.started.is_set():
            typer.echo(f"stack running; logs in {launcher.data_dir / 'logs'}; Ctrl-C stops everything")
            try:
                cli = launcher.cli_credentials
                await run_dashboard(stop=launcher.stopping, url=launcher.nats.url, credentials=cli)
            except Exception as exc:  # the view is a convenience; the stack keeps running without it
                typer.echo(f"dashboard stopped ({exc}); the stack keeps running, Ctrl-C stops it", err=True)
        started.cancel()
    return await running


backtest.register(app)
find_pairs.register(app)
trading.register(app)
strategies.register(app)
operate.register(app)
positions.register(app)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sim(ctx: typer.Context) -> None:
    """Run the Coinbase exchange simulator alone (the start contract other tools rely on).

    Flags: --state-dir DIR (required) [--rest-port 0] [--ws-port 0] [--seed N] [--data FILE --speed X]
    [--duplicate-mode return|reject] [--advertise-host NAME]. Writes ca.pem, cdp_api_key.json and,
    once listening, endpoints.json and sim.json into DIR; runs until Ctrl-C.

    Example: algopioneer sim --state-dir data/sim --rest-port 8443 --ws-port 8765 --seed 7
    """
    from services.exchange_sim.__main__ import main as sim_main

    configure_logging("exchange-sim")
    sim_main(list(ctx.args))
