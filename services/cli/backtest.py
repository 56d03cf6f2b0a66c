"""`algopioneer backtest`: MA crossover, pairs or basis over files, REST candles or synthetic bars.

A thin shell: parse options, call `shared.backtest`, print a table or one JSON object. Every input
problem ends in a one-line `error: …` on stderr and exit status 2; progress goes to stderr so that
`--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.cli.exits import error_exit

if TYPE_CHECKING:
    import polars as pl

    from shared.backtest import BacktestResult, Bars
    from shared.backtest.dual_types import DualConfig
    from shared.backtest.rest_candles import Fetched
    from shared.backtest.sdk_types import SdkConfig
    from shared.backtest.sources import Source
    from shared.sdk.api import TwoLegStrategy

EXAMPLES = """Examples:

  algopioneer backtest --data prices.csv --short 10 --long 20 --fee-bps 20 --capital 10000 --json

  algopioneer backtest --synthetic --bars 20000 --seed 3 --out-dir results/

  algopioneer backtest --data prices.parquet --sweep short=5:50:5 long=20:200:20 --sort-by sharpe

  algopioneer backtest --strategy pairs --data two.csv --symbols ETH-USD,BTC-USD --window 60 --entry-z 2 --exit-z 0.5 --notional 5000 --fee-bps 10

  algopioneer backtest --strategy basis --data spot.csv --data future.csv --spot-id BTC-USD --future-id BIP-20DEC30-CDE --contract-size 0.01 --entry-bps 10 --exit-bps 2 --notional 5000

  algopioneer backtest --product-id BTC-USD --start 2025-01-01 --end 2025-01-08 --granularity 3600

  algopioneer backtest --strategy my_strategy.py:MyStrategy --param product_id=BTC-USD --param interval_s=300 --synthetic --fee-bps 60 --maker-fee-bps 40

Data: columns time (or timestamp), open, high, low, close[, volume]; times ISO-8601 or epoch s/ms/us/ns, strictly increasing. Pairs/basis: one file with a product_id column, or two files (leg 1 first); only times both products have are used.

Your own strategy: --strategy FILE.py:Class, package.module:Class or a registered name, with --param NAME=VALUE for its params. Its products come from the strategy; data is one file with a product_id column or one file per product (in its products() order). Orders fill on bars (market at the next open or --fill close, resting limits when a bar trades through them, post-only that would cross rejected); fees: --fee-bps (taker) and --maker-fee-bps; every product trades on --base-increment and --price-increment.

REST: --start/--end (ISO-8601 or epoch s) fetch candles with the Coinbase SDK (keys from the environment, else public candles), cached as Parquet under --cache-dir; the same request again makes no call.

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


def parse_decimal(value: str, option: str) -> Decimal:
    """A finite Decimal from an option's text, or a one-line failure naming the option."""
    try:
        result = Decimal(value.strip())
    except InvalidOperation:
        raise error_exit(f"{option} must be a number, got '{value}'") from None
    if not result.is_finite():
        raise error_exit(f"{option} must be a finite number, got '{value}'")
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


def _fetch(src: Source, products: tuple[str, ...]) -> list[pl.DataFrame]:
    """Candles over REST (or from the cache), reporting where each product's came from on stderr."""
    from shared.backtest.sources import fetch_frames

    def said(product: str, got: Fetched) -> None:
        how = "the cache" if got.from_cache else f"{got.requests} request(s)"
        where = got.path if got.stored else "not cached: the range reaches into the future"
        stderr.print(
            f"{product}: {got.frame.height} candles from {how} ({where})", highlight=False, soft_wrap=True
        )

    with stderr.status("fetching candles"):
        return fetch_frames(src, products, said)


def _load(src: Source, product_id: str | None, n_bars: int, seed: int, interval: int) -> Bars:
    from shared.backtest.data import bars_from_frame, synthetic_bars
    from shared.backtest.io import load_bars

    if src.rest is not None:
        if not product_id:
            raise error_exit("REST candles need --product-id")
        (frame,) = _fetch(src, (product_id,))
        return bars_from_frame(frame.drop("product_id"))
    if src.data:
        if len(src.data) > 1:
            raise error_exit("ma-crossover takes one --data file")
        return load_bars(src.data[0])
    if interval < 1:
        raise error_exit("--interval must be at least 1 second")
    return synthetic_bars(n_bars, seed=seed, interval_s=interval)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def _print_metrics(summary: dict[str, Any], written: list[Path], title: str, params: str) -> None:
    out = Console()
    table = Table(title=f"{title} backtest ({summary['engine']} engine)", show_header=False)
    table.add_row("parameters", params)
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


def _run_dual(src: Source, cfg: DualConfig) -> tuple[BacktestResult, Bars]:
    """Load both legs (files or REST) and replay them through the live dual-leg strategy."""
    from shared.backtest.dual import run_dual
    from shared.backtest.dual_data import dual_from_frames, load_dual

    if src.synthetic:
        raise error_exit(f"--synthetic is for ma-crossover; {cfg.strategy} needs --data or --start/--end")
    if src.rest is not None:
        series = dual_from_frames(_fetch(src, cfg.products), cfg.products)
    else:
        if len(src.data) > 2:
            raise error_exit("give one --data file with a product_id column, or two files (leg 1 first)")
        series = load_dual(src.data, cfg.products)
    with progress("backtest", enabled=len(series) > 50_000) as update:
        return run_dual(series, cfg, on_progress=update), series.leg1


BUILT_IN = ("ma-crossover", "pairs", "basis")


def _run_plugin(
    ref: str, src: Source, values: dict[str, str], cfg: SdkConfig, n_bars: int, seed: int, interval: int
) -> tuple[BacktestResult, Bars | None, str]:
    """Load the user's strategy, read its products' bars, and run it through the SDK runtime."""
    from shared.backtest.sdk import run_strategy
    from shared.backtest.sdk_data import series_for
    from shared.sdk.api import TwoLegStrategy
    from shared.sdk.loader import entry_point_names, load_class, parse_ref
    from shared.sdk.values import declared_products, instantiate

    if parse_ref(ref).kind == "entry_point" and ref not in entry_point_names():
        raise error_exit(
            f"--strategy '{ref}' is not supported; use ma-crossover, pairs, basis, a registered name"
            f" ({', '.join(entry_point_names()) or 'none'}) or your own FILE.py:Class / package.module:Class"
        )
    strategy = instantiate(load_class(ref), values, strict=False)
    if isinstance(strategy, TwoLegStrategy):
        return _run_two_leg(strategy, ref, src, cfg, n_bars, seed, interval)
    products = declared_products(strategy)
    series = series_for(src, products, lambda p: _fetch(src, p), n=n_bars, seed=seed, interval_s=interval)
    with progress("backtest", enabled=max(map(len, series.values())) > 50_000) as update:
        result = run_strategy(series, strategy, cfg, on_progress=update)
    first = series[products[0]]
    return result, first if len(first) == result.equity.height else None, type(strategy).__name__


def _run_two_leg(
    strategy: TwoLegStrategy[Any],
    ref: str,
    src: Source,
    cfg: SdkConfig,
    n_bars: int,
    seed: int,
    interval: int,
) -> tuple[BacktestResult, Bars | None, str]:
    """A `TwoLegStrategy` runs on the dual-leg machine, as pairs and basis do (market orders, both
    legs on the --base-increment grid); its bars are aligned like theirs."""
    from shared.backtest.dual import run_two_leg_strategy
    from shared.backtest.dual_types import DualConfig
    from shared.backtest.sdk import check_state, strategy_failures
    from shared.backtest.sdk_data import dual_series_for
    from shared.strategies import LegSpec

    legs = strategy.legs()
    series = dual_series_for(src, legs, lambda p: _fetch(src, p), n=n_bars, seed=seed, interval_s=interval)
    specs = tuple(LegSpec(product_id=p, base_increment=cfg.base_increment) for p in legs)
    dual = DualConfig(strategy.params, (specs[0], specs[1]), fill=cfg.fill, fee_bps=cfg.fee_bps,
                      slippage_bps=cfg.slippage_bps, capital=cfg.capital, name=ref)  # fmt: skip
    with strategy_failures(strategy), progress("backtest", enabled=len(series) > 50_000) as update:
        result = run_two_leg_strategy(strategy, series, dual, on_progress=update)
        check_state(strategy)
    return result, series.leg1, type(strategy).__name__


def backtest(
    data: Annotated[
        list[Path] | None,
        typer.Option(help="Bars file (.csv/.parquet); pairs/basis: one file with product_id, or two."),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            help="ma-crossover, pairs, basis, or your own: FILE.py:Class, package.module:Class or a registered name."
        ),
    ] = "ma-crossover",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Your strategy's parameter NAME=VALUE (repeat).")
    ] = None,
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
    maker_fee_bps: Annotated[
        str | None,
        typer.Option(help="Your strategy: fee of resting limit (maker) fills, bps (default: --fee-bps)."),
    ] = None,
    slippage_bps: Annotated[str, typer.Option(help="Adverse slippage per fill, in basis points.")] = "0",
    capital: Annotated[str, typer.Option(help="Starting cash.")] = "10000",
    size: Annotated[
        str | None, typer.Option(help="Fixed units per entry (default: all-in, fee included).")
    ] = None,
    engine: Annotated[
        Literal["event", "vectorised"], typer.Option(help="event: bars through the live core, Decimal money.")
    ] = "event",
    symbols: Annotated[str | None, typer.Option(help="Pairs: leg 1 and leg 2, e.g. ETH-USD,BTC-USD.")] = None,
    spot_id: Annotated[str | None, typer.Option(help="Basis: the spot product (leg 1).")] = None,
    future_id: Annotated[str | None, typer.Option(help="Basis: the future product (leg 2).")] = None,
    window: Annotated[int, typer.Option(help="Pairs: z-score window (bars).")] = 60,
    entry_z: Annotated[float, typer.Option(help="Pairs: enter beyond this |z|.")] = 2.0,
    exit_z: Annotated[float, typer.Option(help="Pairs: exit within this |z|.")] = 0.5,
    hedge_ratio: Annotated[
        Literal["ols", "kalman", "fixed"], typer.Option(help="Pairs: hedge ratio estimator.")
    ] = "ols",
    hedge_window: Annotated[int, typer.Option(help="Pairs: OLS window (0 = --window).")] = 0,
    entry_bps: Annotated[str, typer.Option(help="Basis: enter above this net basis (bps).")] = "10",
    exit_bps: Annotated[str, typer.Option(help="Basis: exit below this net basis (bps).")] = "2",
    allow_reverse: Annotated[
        bool, typer.Option("--allow-reverse", help="Basis: also trade backwardation.")
    ] = False,
    notional: Annotated[str, typer.Option(help="Pairs/basis: leg-1 notional per entry.")] = "100",
    min_profit_bps: Annotated[str, typer.Option(help="Pairs/basis: PnL gate on signal exits (bps).")] = "5",
    stop_loss_bps: Annotated[str, typer.Option(help="Pairs/basis: stop loss (negative bps).")] = "-100",
    entry_cooldown_ms: Annotated[int, typer.Option(help="Pairs/basis: wait after flat (ms).")] = 30_000,
    exit_cooldown_ms: Annotated[int, typer.Option(help="Pairs/basis: minimum holding time (ms).")] = 30_000,
    base_increment: Annotated[
        str, typer.Option(help="Pairs/basis: order-size grid of spot legs; your strategy: of every product.")
    ] = "0.00000001",
    price_increment: Annotated[
        str, typer.Option(help="Your strategy: limit-price grid of every product.")
    ] = "0.01",
    contract_size: Annotated[
        str, typer.Option(help="Basis: base units per future contract (BTC nano: 0.01).")
    ] = "0.01",
    future_increment: Annotated[str, typer.Option(help="Basis: future order grid (contracts).")] = "1",
    product_id: Annotated[str | None, typer.Option(help="REST: product to fetch (ma-crossover).")] = None,
    start: Annotated[str | None, typer.Option(help="REST: first candle, ISO-8601 or epoch s.")] = None,
    end: Annotated[str | None, typer.Option(help="REST: end (exclusive), ISO-8601 or epoch s.")] = None,
    granularity: Annotated[int, typer.Option(help="REST: candle length in seconds.")] = 60,
    rest_host: Annotated[
        str | None, typer.Option(help="REST: host[:port] (default api.coinbase.com).")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help="REST: trust only this CA (the simulator's).")] = None,
    cache_dir: Annotated[Path, typer.Option(help="REST: Parquet candle cache.")] = Path(".cache/candles"),
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
    """Backtest MA crossover, pairs, basis or your own strategy through the live strategy code."""
    from shared.backtest import BacktestConfig, BacktestError, run_event_driven, run_vectorised
    from shared.backtest.dual_types import dual_config
    from shared.backtest.report import result_summary
    from shared.backtest.sources import dual_legs, leg_ids, resolve_source
    from shared.backtest.sweep import grid, run_sweep, sort_rows
    from shared.sdk.loader import StrategyLoadError
    from shared.sdk.values import parse_assignments

    axes = list(sweep or []) + list(more_axes or [])
    if more_axes and not sweep:
        raise error_exit(f"unexpected argument '{more_axes[0]}' (did you mean --sweep {more_axes[0]}?)")
    plugin = strategy not in BUILT_IN
    if plugin:
        given = [name for name, value in (("--sweep", axes), ("--size", size), ("--symbols", symbols),
                 ("--spot-id", spot_id), ("--future-id", future_id), ("--product-id", product_id)) if value]  # fmt: skip
        if engine != "event":
            given.append("--engine vectorised")
        if given:
            raise error_exit(
                f"{given[0]} is not for your own strategy: its products and sizes come from the strategy "
                "(set them with --param, e.g. --param product_id=BTC-USD)"
            )
    elif param or maker_fee_bps is not None:
        raise error_exit(
            f"--param and --maker-fee-bps are for your own strategy (FILE.py:Class); {strategy} has its own options"
        )
    try:
        src = resolve_source(
            list(data or []), synthetic, start, end, granularity, rest_host, ca_file, cache_dir
        )
        if product_id is not None and (src.rest is None or strategy != "ma-crossover"):
            raise error_exit(
                "--product-id is for ma-crossover with --start/--end (pairs/basis name their legs)"
            )
        run: dict[str, Any] = {
            "fill": fill,
            "fee_bps": parse_decimal(fee_bps, "--fee-bps"),
            "slippage_bps": parse_decimal(slippage_bps, "--slippage-bps"),
            "capital": parse_decimal(capital, "--capital"),
        }
        if plugin:
            from shared.backtest.sdk_types import SdkConfig

            sdk_cfg = SdkConfig(
                strategy=strategy,
                maker_fee_bps=parse_decimal(
                    maker_fee_bps if maker_fee_bps is not None else fee_bps, "--maker-fee-bps"
                ),
                base_increment=parse_decimal(base_increment, "--base-increment"),
                price_increment=parse_decimal(price_increment, "--price-increment"),
                **run,
            )
            assigned = parse_assignments(param or [])
            result, chart_bars, title = _run_plugin(strategy, src, assigned, sdk_cfg, bars, seed, interval)
        elif strategy in ("pairs", "basis"):
            if axes or engine != "event":
                raise error_exit(
                    f"{strategy} runs on the event engine only (no --sweep, no --engine vectorised)"
                )
            products = leg_ids(strategy, symbols, spot_id, future_id)
            values: dict[str, Any] = {
                "notional": parse_decimal(notional, "--notional"),
                "min_profit_bps": parse_decimal(min_profit_bps, "--min-profit-bps"),
                "stop_loss_bps": parse_decimal(stop_loss_bps, "--stop-loss-bps"),
                "entry_cooldown_ms": entry_cooldown_ms,
                "exit_cooldown_ms": exit_cooldown_ms,
            }
            if strategy == "pairs":
                values.update(window=window, entry_z=entry_z, exit_z=exit_z, hedge_ratio=hedge_ratio)
                values["hedge_window"] = hedge_window
            else:
                values.update(
                    entry_bps=parse_decimal(entry_bps, "--entry-bps"),
                    exit_bps=parse_decimal(exit_bps, "--exit-bps"),
                    allow_reverse=allow_reverse,
                )
            legs = dual_legs(
                strategy,
                products,
                parse_decimal(base_increment, "--base-increment"),
                parse_decimal(contract_size, "--contract-size"),
                parse_decimal(future_increment, "--future-increment"),
            )
            kind: Literal["pairs", "basis"] = "pairs" if strategy == "pairs" else "basis"
            result, chart_bars = _run_dual(src, dual_config(kind, legs, values, **run))
            title = strategy
        else:
            cfg = BacktestConfig(
                # A sweep replaces the windows per combination; the base only has to be valid.
                short=short if not axes else 1,
                long=long if not axes else 2,
                average=average,
                cross=cross,
                size=parse_decimal(size, "--size") if size is not None else None,
                **run,
            )
            if axes:
                if top < 1 or workers < 1:
                    raise error_exit("--top and --workers must be at least 1")
                combos = grid(axes, short, long)
                sort_rows([], sort_by)  # validate the metric name before the work starts
                series = _load(src, product_id, bars, seed, interval)
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
            chart_bars = _load(src, product_id, bars, seed, interval)
            if engine == "event":
                with progress("backtest", enabled=len(chart_bars) > 50_000) as update:
                    result = run_event_driven(chart_bars, cfg, on_progress=update)
            else:
                result = run_vectorised(chart_bars, cfg)
            title = "MA crossover"
        written: list[Path] = []
        if out_dir is not None:
            from shared.backtest.io import save_result

            with stderr.status("writing results"):
                written = save_result(result, out_dir, chart_bars)
    except (BacktestError, StrategyLoadError) as exc:
        raise error_exit(str(exc)) from None
    except OSError as exc:
        raise error_exit(
            f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        ) from None
    summary = result_summary(result)
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        _print_metrics(summary, written, title, result.config.describe())


def register(app: typer.Typer) -> None:
    """Add the `backtest` command to the CLI app."""
    app.command("backtest", epilog=EXAMPLES)(backtest)
