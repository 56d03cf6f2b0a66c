"""Entry point of the `algopioneer` command."""

from __future__ import annotations

import typer

app = typer.Typer(help="algopioneer: algorithmic trading for Coinbase Advanced Trade over NATS.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """algopioneer: algorithmic trading for Coinbase Advanced Trade over NATS."""


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("algopioneer"))
