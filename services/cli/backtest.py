"""`algopioneer backtest`: MA crossover over a CSV/Parquet file or synthetic bars, or a sweep.

A thin shell: parse options, call `shared.backtest`, print a table or one JSON object. Every input
problem ends in a one-line `error: …` on stderr and exit status 2; progress goes to stderr so that
`--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from shared.backtest import Bars

EXAMPLES = """Examples:

  algopioneer backtest --data prices.csv --short 10 --long 20 --fee-bps 20 --capital 10000 --json

  algopioneer backtest --synthetic --bars 20000 --seed 3 --out-dir results/

  algopioneer backtest --data prices.parquet --sweep short=5:50:5 long=20:200:20 --sort-by sharpe

Data: columns time (or timestamp), open, high, low, close[, volume]; times ISO-8601 or epoch s/ms/us/ns, strictly increasing.

JSON: numbers are floats, times ISO-8601 UTC; max_drawdown_pct is a positive magnitude; undefined metrics (profit_factor with no losing trade, sharpe with no variance) are null.
"""

stderr = Console(stderr=True)
# Kept in sync with `shared.backtest.types.Metrics` (a test checks); importing it here would make
# every `algopioneer` command pay for polars and numpy at start-up.
METRICS = (
    "final_equity",
    "return_pct",
    "cagr_pct",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "win_rate_pct",
    "profit_factor",
    "exposure_pct",
    "num_trades",
)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` as one line on stderr and exit (shared by the research commands)."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def parse_decimal(value: str, option: str) -> Decimal:
    """A finite Decimal from an option's text, or a one-line failure naming the option."""
    try:
        result = Decimal(value.strip())
    except InvalidOperation:
        fail(f"{option} must be a number, got '{value}'")
    if not result.is_finite():
        fail(f"{option} must be a finite number, got '{value}'")
    return result


@contextmanager
def progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr (only when it is a terminal: no control codes in logs or
    pipes); yields an `update(done, total)` callback."""
    if not enabled or not stderr.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _load(data: Path | None, synthetic: bool, n_bars: int, seed: int, interval: int) -> Bars:
    from shared.backtest.data import synthetic_bars
    from shared.backtest.io import load_bars

    if data is not None and synthetic:
        fail("give either --data FILE or --synthetic, not both")
    if data is None and not synthetic:
        fail("give --data FILE (CSV or Parquet) or --synthetic")
    if data is not None:
        return load_bars(data)
    if interval < 1:
        fail("--interval must be at least 1 second")
    return synthetic_bars(n_bars, seed=seed, interval_s=interval)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def _print_metrics(summary: dict[str, Any], written: list[Path]) -> None:
    out = Console()
    table = Table(title=f"MA crossover backtest ({summary['engine']} engine)", show_header=False)
    cfg = summary["config"]
    table.add_row(
        "parameters",
        f"{cfg['average']} {cfg['short']}/{cfg['long']}, fill {cfg['fill']}, cross {cfg['cross']}",
    )
    for key in METRICS:
        table.add_row(key, _fmt(summary[key]))
    out.print(table)
    if written:
        out.print(
            f"wrote {len(written)} files to {written[0].parent}/ (trades, equity, summary.json, chart.png)"
        )


SWEEP_COLUMNS = {
    "return_pct": "return %",
    "max_drawdown_pct": "max DD %",
    "sharpe": "sharpe",
    "sortino": "sortino",
    "win_rate_pct": "win %",
    "num_trades": "trades",
}


def _print_sweep(rows: list[dict[str, Any]], sort_by: str, top: int) -> None:
    out = Console()
    table = Table(title=f"sweep: {len(rows)} combinations, best {min(top, len(rows))} by {sort_by}")
    keys = ["short", "long", *SWEEP_COLUMNS]
    if sort_by not in keys:
        keys.append(sort_by)
    for key in keys:
        table.add_column(SWEEP_COLUMNS.get(key, key), justify="right")
    for row in rows[:top]:
        table.add_row(*(_fmt(row[k]) for k in keys))
    out.print(table)


def backtest(
    data: Annotated[Path | None, typer.Option(help="Bars file: .csv or .parquet.")] = None,
    strategy: Annotated[
        str, typer.Option(help="Strategy to test (only ma-crossover for now).")
    ] = "ma-crossover",
    short: Annotated[int, typer.Option(help="Short moving-average window (bars).")] = 10,
    long: Annotated[int, typer.Option(help="Long moving-average window (bars).")] = 20,
    average: Annotated[Literal["sma", "ema"], typer.Option(help="Average type.")] = "sma",
    fill: Annotated[
        Literal["next-open", "close"],
        typer.Option(help="next-open: fill at the next bar's open; close: this bar's close."),
    ] = "next-open",
    cross: Annotated[
        Literal["strict", "touch"],
        typer.Option(
            help="strict: previous short strictly below long; touch: a previous tie counts (live core's rule)."
        ),
    ] = "strict",
    fee_bps: Annotated[str, typer.Option(help="Fee per fill, in basis points of notional.")] = "0",
    slippage_bps: Annotated[str, typer.Option(help="Adverse slippage per fill, in basis points.")] = "0",
    capital: Annotated[str, typer.Option(help="Starting cash.")] = "10000",
    size: Annotated[
        str | None, typer.Option(help="Fixed units per entry (default: all-in, fee included).")
    ] = None,
    engine: Annotated[
        Literal["event", "vectorised"], typer.Option(help="event: bars through the live core, Decimal money.")
    ] = "event",
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Use seeded synthetic bars instead of --data.")
    ] = False,
    bars: Annotated[int, typer.Option("--bars", help="Synthetic: number of bars.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Synthetic: random seed.")] = 7,
    interval: Annotated[int, typer.Option(help="Synthetic: bar length in seconds.")] = 60,
    sweep: Annotated[
        list[str] | None,
        typer.Option(help="Grid axis, e.g. short=5:50:5 (inclusive); one or both axes; vectorised engine."),
    ] = None,
    more_axes: Annotated[
        list[str] | None, typer.Argument(metavar="AXES", hidden=True, show_default=False)
    ] = None,
    sort_by: Annotated[str, typer.Option(help=f"Sweep ranking metric: {', '.join(METRICS)}.")] = "sharpe",
    top: Annotated[int, typer.Option(help="Sweep: rows to print.")] = 20,
    workers: Annotated[int, typer.Option(help="Sweep: worker processes.")] = 2,
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Write trades/equity (Parquet+CSV), summary and chart here (a sweep: its table)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Backtest the MA crossover strategy on historical or synthetic bars."""
    from shared.backtest import BacktestConfig, BacktestError, run_event_driven, run_vectorised
    from shared.backtest.report import result_summary
    from shared.backtest.sweep import grid, run_sweep, sort_rows

    if strategy != "ma-crossover":
        fail(f"--strategy '{strategy}' is not supported by backtest yet; use ma-crossover")
    axes = list(sweep or []) + list(more_axes or [])
    if more_axes and not sweep:
        fail(f"unexpected argument '{more_axes[0]}' (did you mean --sweep {more_axes[0]}?)")
    try:
        cfg = BacktestConfig(
            # A sweep replaces the windows per combination; the base only has to be valid.
            short=short if not axes else 1,
            long=long if not axes else 2,
            average=average,
            fill=fill,
            cross=cross,
            fee_bps=parse_decimal(fee_bps, "--fee-bps"),
            slippage_bps=parse_decimal(slippage_bps, "--slippage-bps"),
            capital=parse_decimal(capital, "--capital"),
            size=parse_decimal(size, "--size") if size is not None else None,
        )
        if axes:
            if top < 1 or workers < 1:
                fail("--top and --workers must be at least 1")
            combos = grid(axes, short, long)
            sort_rows([], sort_by)  # validate the metric name before the work starts
            series = _load(data, synthetic, bars, seed, interval)
            with progress("sweep") as update:
                rows = sort_rows(run_sweep(series, cfg, combos, workers=workers, on_done=update), sort_by)
            if out_dir is not None:
                from shared.backtest.io import save_sweep

                save_sweep(rows, out_dir)
            if as_json:
                typer.echo(json.dumps({"sort_by": sort_by, "combinations": len(rows), "results": rows}))
            else:
                _print_sweep(rows, sort_by, top)
            return
        series = _load(data, synthetic, bars, seed, interval)
        if engine == "event":
            with progress("backtest", enabled=len(series) > 50_000) as update:
                result = run_event_driven(series, cfg, on_progress=update)
        else:
            result = run_vectorised(series, cfg)
        written: list[Path] = []
        if out_dir is not None:
            from shared.backtest.io import save_result

            with stderr.status("writing results"):
                written = save_result(result, out_dir, series)
    except BacktestError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
    summary = result_summary(result)
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        _print_metrics(summary, written)


def register(app: typer.Typer) -> None:
    """Add the `backtest` command to the CLI app."""
    app.command("backtest", epilog=EXAMPLES)(backtest)
