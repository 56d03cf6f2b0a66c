"""`algopioneer find-pairs`: rank cointegrated product pairs and write a portfolio config.

The `--out` file is a JSON list of `StrategySpec` (pairs params, tag `type: "pairs"`) encoded by
msgspec from the same types `algopioneer portfolio --config` decodes, so it is accepted as is (the
original's tool wrote a file its own portfolio command could not parse).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.cli.backtest import progress
from services.cli.exits import error_exit

if TYPE_CHECKING:
    from shared.research.pairs import PairStats

EXAMPLES = """Examples:

  algopioneer find-pairs --data candles.parquet --out pairs.json

  algopioneer find-pairs --data candles/ --products BTC-USD,ETH-USD,SOL-USD --max-pvalue 0.01

  algopioneer find-pairs --data candles.csv --window 120 --entry-z 2.5 --exit-z 0.5 --json

Data: one table with columns time, product_id, close, or a directory of per-product files (file name = product id, columns time, close). Only times present for every product are used.

The p-value is Engle-Granger's, the larger of the two directions; half-life is in bars of the input. Without --window each pair gets about four half-lives (between 20 and 1000).
"""


def _table(rows: list[PairStats], windows: list[int], tested: int) -> Table:
    table = Table(title=f"cointegrated pairs: {len(rows)} of {tested} tested")
    for name in ("#", "leg1", "leg2", "corr", "EG t", "p-value", "hedge", "half-life (bars)", "window"):
        table.add_column(name, justify="left" if name.startswith("leg") else "right")
    for i, (s, w) in enumerate(zip(rows, windows, strict=True), start=1):
        table.add_row(
            str(i),
            s.leg1,
            s.leg2,
            f"{s.correlation:.3f}",
            f"{s.coint_t:.2f}",
            f"{s.p_value:.2e}",
            f"{s.hedge_ratio:.4f}",
            f"{s.half_life_bars:.1f}" if s.half_life_bars is not None else "—",
            str(w),
        )
    return table


def find_pairs(
    data: Annotated[
        Path, typer.Option(help="Candles: a .csv/.parquet (time, product_id, close) or a directory.")
    ],
    products: Annotated[
        str | None, typer.Option(help="Comma-separated product ids to consider (default: all).")
    ] = None,
    max_pvalue: Annotated[
        float, typer.Option(help="Keep pairs with an Engle-Granger p-value at most this.")
    ] = 0.05,
    min_corr: Annotated[
        float, typer.Option(help="Skip pairs whose log-price correlation is below this.")
    ] = 0.0,
    max_half_life: Annotated[
        float | None, typer.Option(help="Keep pairs whose spread half-life (bars) is at most this.")
    ] = None,
    top: Annotated[int, typer.Option(help="How many pairs to keep.")] = 10,
    window: Annotated[
        int | None, typer.Option(help="Z-score window for every spec (default: from the half-life).")
    ] = None,
    entry_z: Annotated[float, typer.Option(help="Entry |z| for the specs.")] = 2.0,
    exit_z: Annotated[float, typer.Option(help="Exit |z| for the specs.")] = 0.5,
    out: Annotated[
        Path | None, typer.Option(help="Write the pairs as a portfolio config (JSON list of specs).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the ranked pairs as one JSON object.")
    ] = False,
) -> None:
    """Find cointegrated pairs in candle data and write them as pairs strategy specs."""
    # Imported here: statsmodels takes seconds to import and every other command would pay for it.
    from shared.backtest.errors import DataError
    from shared.research.loading import load_log_prices
    from shared.research.pairs import encode_specs, scan_pairs, select, suggested_window, to_specs

    if not 0.0 < max_pvalue <= 1.0:
        raise error_exit("--max-pvalue must be in (0, 1]")
    if not -1.0 <= min_corr <= 1.0:
        raise error_exit("--min-corr must be in [-1, 1]")
    if top < 1:
        raise error_exit("--top must be at least 1")
    if window is not None and window < 5:
        raise error_exit("--window must be at least 5")
    if not 0.0 <= exit_z < entry_z:
        raise error_exit("need 0 <= --exit-z < --entry-z")
    if max_half_life is not None and max_half_life <= 0:
        raise error_exit("--max-half-life must be positive")
    if out is not None and not out.parent.is_dir():
        raise error_exit(f"{out}: directory {out.parent} does not exist")
    wanted = [p.strip() for p in products.split(",") if p.strip()] if products is not None else None
    if wanted is not None and len(set(wanted)) < 2:
        raise error_exit("--products needs at least two different product ids")
    try:
        prices, n_obs = load_log_prices(data, wanted)
        if n_obs < 30:
            raise error_exit(f"{data}: only {n_obs} times are common to all products; need at least 30")
        with progress("testing pairs") as update:
            stats = scan_pairs(prices, min_correlation=min_corr, on_progress=update)
    except DataError as exc:
        raise error_exit(str(exc)) from None
    tested = len(prices) * (len(prices) - 1) // 2
    chosen = select(stats, max_p_value=max_pvalue, max_half_life=max_half_life, top=top)
    windows = [window if window is not None else suggested_window(s) for s in chosen]
    if as_json:
        rows = [asdict(s) | {"window": w} for s, w in zip(chosen, windows, strict=True)]
        typer.echo(json.dumps({"observations": n_obs, "tested": tested, "pairs": rows}))
    else:
        Console().print(_table(chosen, windows, tested))
    if not chosen:
        raise error_exit(
            f"no pair passed the filters (p-value <= {max_pvalue}, mean-reverting spread)", code=1
        )
    if out is not None:
        try:
            out.write_bytes(encode_specs(to_specs(chosen, window=window, entry_z=entry_z, exit_z=exit_z)))
        except OSError as exc:
            raise error_exit(f"{out}: {exc.strerror or exc}") from None
        Console(stderr=True).print(f"wrote {len(chosen)} pairs strategy spec(s) to {out}")


def register(app: typer.Typer) -> None:
    """Add the `find-pairs` command to the CLI app."""
    app.command("find-pairs", epilog=EXAMPLES)(find_pairs)
