"""How a CLI command gives up: one `error: ...` line on stderr and a non-zero exit code."""

from __future__ import annotations

import typer


def error_exit(message: str, code: int = 2) -> typer.Exit:
    """Print `error: message` as one line on stderr and return the exit; the caller raises it
    (`raise error_exit(...)`), so every place a command stops is visible as a `raise`."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)
