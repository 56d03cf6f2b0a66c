"""`algopioneer positions`: positions and PnL per strategy and for the portfolio, from the stack."""

from __future__ import annotations

import asyncio
import collections
import json
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table

from services.cli.figures import Figures
from services.cli.stack_client import connect
from services.cli.view import StackView, mode_label
from shared import routing, subjects
from shared.bus import Bus
from shared.messages import Fill, Position
from shared.money import ZERO, plain

KIND_NAMES = {"ma_crossover": "ma-crossover", "basis": "basis", "pairs": "pairs"}
JSON_SHAPE = """{"strategies": [{"id", "type" (ma-crossover|basis|pairs), "mode" (paper|live),
"venue" (where its orders go), "state", "owner", "positions": [{"product_id", "size", "avg_price"}],
"num_fills", "realized_pnl", "unrealized_pnl", "fees"}], "portfolio": {"realized_pnl",
"unrealized_pnl", "fees", "gross_exposure"}} — Decimals as exact strings, never an exponent."""


def build_report(positions: list[Position], view: StackView, fill_counts: dict[str, int]) -> dict[str, Any]:
    """The `--json` object: every strategy that has a spec, a position or fills."""
    by_strategy: dict[str, list[Position]] = collections.defaultdict(list)
    for p in positions:
        by_strategy[p.strategy_id].append(p)
    instances = {i["id"]: i for i in view.to_json()["instances"]}
    strategies = []
    for sid in sorted(set(by_strategy) | set(instances) | set(fill_counts)):
        rows = sorted(by_strategy.get(sid, []), key=lambda p: (p.product_id, p.venue))
        instance = instances.get(sid, {})
        # A strategy without a spec (stopped) still shows where its positions are held.
        venue = instance.get("venue") or ", ".join(sorted({p.venue for p in rows}))
        mode = instance.get("mode") or ", ".join(sorted({routing.mode_of(p.venue) for p in rows}))
        strategies.append(
            {
                "id": sid,
                "type": KIND_NAMES.get(instance.get("kind", ""), instance.get("kind", "")),
                "mode": mode,
                "venue": venue,
                "state": instance.get("state", ""),
                "owner": instance.get("owner", ""),
                "positions": [
                    {
                        "product_id": p.product_id,
                        "size": plain(p.quantity),
                        "avg_price": plain(p.average_price),
                    }
                    for p in rows
                ],
                "num_fills": fill_counts.get(sid, 0),
                "realized_pnl": plain(sum((p.realized_pnl for p in rows), ZERO)),
                "unrealized_pnl": plain(sum((p.unrealized_pnl for p in rows), ZERO)),
                "fees": plain(sum((p.fees for p in rows), ZERO)),
            }
        )
    gross = view.risk.gross_exposure if view.risk else ZERO
    portfolio = {
        "realized_pnl": plain(sum((p.realized_pnl for p in positions), ZERO)),
        "unrealized_pnl": plain(sum((p.unrealized_pnl for p in positions), ZERO)),
        "fees": plain(sum((p.fees for p in positions), ZERO)),
        "gross_exposure": plain(gross),
    }
    return {"strategies": strategies, "portfolio": portfolio}


async def count_fills(bus: Bus, timeout_s: float = 10.0) -> dict[str, int]:
    """Fills per strategy in the FILLS stream (already de-duplicated by trade id on the way in),
    read until what the stream held when we asked is in."""
    counts: collections.Counter[str] = collections.Counter()

    async def on_fill(fill: Fill) -> None:
        counts[fill.strategy_id] += 1

    followed = await bus.follow(subjects.STREAM_SUBJECTS[subjects.STREAM_FILLS][0], Fill, on_fill)
    try:
        await followed.wait_caught_up(timeout_s)
    finally:
        await followed.unsubscribe()
    return dict(counts)


async def gather() -> tuple[list[Position], StackView, dict[str, int]]:
    """Positions from risk's KV, instance state from the stack, fill counts from the stream."""
    async with connect() as bus:
        kv = await bus.kv(subjects.KV_POSITIONS, Position)
        found = [await kv.get(key) for key in await kv.keys()]
        view = StackView()
        await view.load(bus)
        held = [e.value for e in found if e is not None]
        await view.figures.load(bus, view.products() | {p.product_id for p in held})
        return held, view, await count_fills(bus)


def register(app: typer.Typer) -> None:
    """Add `positions`."""

    @app.command(help=f"Positions and PnL per strategy and in total.\n\n--json prints: {JSON_SHAPE}")
    def positions(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Example: algopioneer positions --json"""
        rows, view, fills = asyncio.run(gather())
        report = build_report(rows, view, fills)
        if as_json:
            typer.echo(json.dumps(report))
            return
        Console().print(render(report, view.figures))


def render(report: dict[str, Any], fig: Figures) -> Group:
    """The report for people: sizes and prices on each product's grid, money in cents."""
    table = Table(
        "strategy",
        "type",
        "mode",
        "state",
        "product",
        "size",
        "avg price",
        "fills",
        "realized",
        "unrealized",
        "fees",
    )
    for s in report["strategies"]:
        products = s["positions"] or [{"product_id": "", "size": "", "avg_price": ""}]
        quoted = products[0]["product_id"]  # a strategy's PnL is in its products' quote currency
        for i, p in enumerate(products):
            first, product = i == 0, p["product_id"]
            table.add_row(
                s["id"] if first else "",
                s["type"] if first else "",
                mode_label(s["mode"], s["venue"]) if first else "",
                s["state"] if first else "",
                product,
                fig.size(product, Decimal(p["size"])) if p["size"] else "",
                fig.price(product, Decimal(p["avg_price"])) if p["avg_price"] else "",
                str(s["num_fills"]) if first else "",
                *(
                    (fig.money(Decimal(s[k]), quoted) if first else "")
                    for k in ("realized_pnl", "unrealized_pnl", "fees")
                ),
            )
    total = {k: fig.money(Decimal(v)) for k, v in report["portfolio"].items()}
    return Group(
        table,
        f"portfolio: realized {total['realized_pnl']}, unrealized {total['unrealized_pnl']}, "
        f"fees {total['fees']}, gross exposure {total['gross_exposure']}",
    )
