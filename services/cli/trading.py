"""Trading commands: start and stop strategy instances, halt and resume, positions.

They write strategy specs to the `strategy_specs` KV bucket (the strategy workers pick them up) and
talk to the risk service by request/reply; nothing runs in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from services.cli.executions import missing_execution, running_venues
from services.cli.exits import error_exit
from services.cli.stack_client import connect
from shared import subjects
from shared.config import field_of
from shared.messages import (
    ControlAction,
    ControlCommand,
    ControlReply,
    Mode,
    StrategySpec,
)
from shared.messages.strategy import StrategyCode
from shared.sdk.codestore import put_code
from shared.sdk.loader import PLUGIN_DIRS_ENV, StrategyLoadError, split_dirs
from shared.sdk.specs import expand_portfolio

PaperFlag = Annotated[
    bool,
    typer.Option(
        "--paper/--live",
        help="Paper (default) or live trading; refused unless an execution of that mode is running.",
    ),
]
IdOption = Annotated[str, typer.Option("--id", help="Instance id; derived from the products when omitted.")]


def _spec(spec_id: str, params: object, paper: bool) -> StrategySpec:
    """Build and validate a spec; a bad value is a one-line error naming the field."""
    try:
        return msgspec.convert(
            {"id": spec_id, "params": params, "mode": Mode.PAPER if paper else Mode.LIVE},
            StrategySpec,
            from_attributes=True,
        )
    except msgspec.ValidationError as exc:
        field, problem = field_of(exc)
        raise error_exit(f"invalid strategy: {field}: {problem}") from None


async def _put_specs(specs: list[StrategySpec], codes: Sequence[StrategyCode] = ()) -> None:
    """Write the specs (after the plug-in sources they name), unless one would route orders to a
    venue no execution serves, or would switch a stored instance between paper and live (its
    positions belong to the old venue)."""
    async with connect() as bus:
        served = await running_venues(bus)
        for venue in sorted({s.order_venue for s in specs}):
            if venue not in served:
                raise error_exit(missing_execution(venue))
        kv = await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
        for spec in specs:
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                entry = await kv.get(spec.id)
                if entry is not None and entry.value.order_venue != spec.order_venue:
                    old = entry.value
                    raise error_exit(
                        f"instance {spec.id} trades {old.mode.value} ({old.order_venue}): stop it first"
                        f" (`algopioneer stop {spec.id}`) or use another --id"
                    )
        for code in codes:
            await put_code(bus, code.source, code.filename)
        for spec in specs:
            await kv.put(spec.id, spec)


def _start(specs: list[StrategySpec], codes: Sequence[StrategyCode] = ()) -> None:
    asyncio.run(_put_specs(specs, codes))
    for spec in specs:
        typer.echo(
            f"started {spec.kind} instance {spec.id} ({spec.mode.value}, orders to {spec.order_venue})"
            f" on {', '.join(spec.products)}"
        )


def plugin_dirs() -> tuple[str, ...]:
    """Extra folders `package.module:Class` references import from: the strategy workers'
    setting `ALGOPIONEER_STRATEGY__PLUGIN_DIRS` (separated like PATH), read from the environment."""
    return split_dirs(os.environ.get(PLUGIN_DIRS_ENV, ""))


def _default_id(prefix: str, *products: str) -> str:
    return "-".join([prefix, *[p.lower() for p in products]])[:64]


def register(app: typer.Typer) -> None:
    """Add the trading commands to the CLI."""

    @app.command()
    def trade(
        product_id: Annotated[
            str, typer.Option("--product-id", "-p", help="Product to trade, e.g. BTC-USD.")
        ],
        duration: Annotated[int, typer.Option("--duration", "-d", help="Bar interval in seconds.")] = 60,
        paper: PaperFlag = True,
        short: Annotated[int, typer.Option(help="Short moving-average window (bars).")] = 5,
        long: Annotated[int, typer.Option(help="Long moving-average window (bars).")] = 20,
        order_size: Annotated[str, typer.Option(help="Order size in base units.")] = "0.001",
        average: Annotated[str, typer.Option(help="sma or ema.")] = "sma",
        spec_id: IdOption = "",
    ) -> None:
        """Start a moving-average crossover instance.

        Example: algopioneer trade --product-id BTC-USD --duration 60 --short 5 --long 20 --paper
        """
        params = {
            "type": "ma_crossover",
            "product_id": product_id,
            "short_window": short,
            "long_window": long,
            "interval_s": duration,
            "order_size": order_size,
            "average": average,
        }
        _start([_spec(spec_id or _default_id("ma", product_id), params, paper)])

    @app.command()
    def basistrade(
        spot_id: Annotated[str, typer.Option("--spot-id", help="Spot leg, e.g. BTC-USD.")] = "BTC-USD",
        future_id: Annotated[str, typer.Option("--future-id", help="Future leg, e.g. BIP-20DEC30-CDE.")] = "",
        paper: PaperFlag = True,
        notional: Annotated[str, typer.Option(help="Quote notional per trade.")] = "100",
        entry_bps: Annotated[str, typer.Option(help="Enter above this net basis (bps).")] = "10",
        exit_bps: Annotated[str, typer.Option(help="Exit below this net basis (bps).")] = "2",
        spec_id: IdOption = "",
    ) -> None:
        """Start a spot-vs-future basis instance (dollar-neutral, whole futures contracts).

        Example: algopioneer basistrade --spot-id BTC-USD --future-id BIP-20DEC30-CDE --paper
        """
        if not future_id:
            raise error_exit("--future-id is required (a BTC future such as BIP-20DEC30-CDE)")
        params = {
            "type": "basis",
            "spot_id": spot_id,
            "future_id": future_id,
            "notional": notional,
            "entry_bps": entry_bps,
            "exit_bps": exit_bps,
        }
        _start([_spec(spec_id or _default_id("basis", spot_id, future_id), params, paper)])

    @app.command()
    def pairs(
        symbols: Annotated[str, typer.Option(help="Two products, comma-separated: A,B.")],
        paper: PaperFlag = True,
        window: Annotated[int, typer.Option(help="Rolling window (ticks).")] = 60,
        entry_z: Annotated[float, typer.Option(help="Enter beyond this |z|.")] = 2.0,
        exit_z: Annotated[float, typer.Option(help="Exit inside this |z|.")] = 0.5,
        notional: Annotated[str, typer.Option(help="Quote notional per leg.")] = "100",
        spec_id: IdOption = "",
    ) -> None:
        """Start a pairs (z-score stat-arb) instance.

        Example: algopioneer pairs --symbols ETH-USD,BTC-USD --window 60 --entry-z 2 --exit-z 0.5
        """
        legs = [s.strip() for s in symbols.split(",") if s.strip()]
        if len(legs) != 2:
            raise error_exit(f"--symbols needs exactly two products, got {len(legs)}: {symbols!r}")
        params = {
            "type": "pairs",
            "leg1_id": legs[0],
            "leg2_id": legs[1],
            "window": window,
            "entry_z": entry_z,
            "exit_z": exit_z,
            "notional": notional,
        }
        _start([_spec(spec_id or _default_id("pairs", *legs), params, paper)])

    @app.command()
    def portfolio(
        config: Annotated[Path, typer.Option("--config", help="JSON list of strategy specs.")],
        paper: PaperFlag = True,
    ) -> None:
        """Start every instance in a file: stored specs (the format `algopioneer find-pairs --out`
        writes) and plug-in entries {"id": ..., "strategy": "FILE.py:Class", "params": {...}},
        their files relative to the portfolio file.

        Example: algopioneer portfolio --config pairs.json --paper
        """
        try:
            entries = expand_portfolio(
                config.read_bytes(), base_dir=config.parent, search_paths=plugin_dirs()
            )
        except FileNotFoundError:
            raise error_exit(f"no such file: {config}") from None
        except StrategyLoadError as exc:
            raise error_exit(f"{config}: {exc}") from None
        mode = Mode.PAPER if paper else Mode.LIVE
        specs = [msgspec.structs.replace(e.spec, mode=mode) for e in entries]
        _start(specs, [e.code for e in entries if e.code is not None])

    @app.command()
    def stop(spec_id: Annotated[str, typer.Argument(help="Instance id to stop.")]) -> None:
        """Stop an instance (its worker stops it; positions are left to the operator or risk).

        Example: algopioneer stop ma-btc-usd
        """

        async def run() -> bool:
            async with connect() as bus:
                kv = await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
                if await kv.get(spec_id) is None:
                    return False
                await kv.delete(spec_id)
                return True

        if not asyncio.run(run()):
            raise error_exit(f"no such instance: {spec_id}")
        typer.echo(f"stopped {spec_id}")

    def _control(action: ControlAction, reason: str, flatten: bool = False) -> ControlReply:
        async def run() -> ControlReply:
            async with connect() as bus:
                command = ControlCommand(
                    action=action, reason=reason, operator="cli", flatten=flatten, requested_ns=time.time_ns()
                )
                try:
                    return await bus.request(subjects.RISK_CONTROL, command, ControlReply, timeout=5.0)
                except Exception as exc:  # no responder or timeout: the risk service is down
                    raise error_exit(
                        f"the risk service did not answer ({type(exc).__name__}); is it running?"
                    ) from None

        return asyncio.run(run())

    @app.command()
    def halt(
        reason: Annotated[str, typer.Option(help="Why trading stops (recorded).")],
        flatten: Annotated[bool, typer.Option(help="Also close every position.")] = False,
    ) -> None:
        """Kill switch: reject new entries, cancel open orders (and flatten if asked).

        Example: algopioneer halt --reason "exchange incident"
        """
        reply = _control(ControlAction.HALT, reason, flatten)
        typer.echo(f"halted: {reply.detail}" if reply.ok else f"halt refused: {reply.detail}")
        if not reply.ok:
            raise typer.Exit(1)

    @app.command()
    def resume(reason: Annotated[str, typer.Option(help="Why trading may resume.")] = "operator") -> None:
        """Lift the kill switch.

        Example: algopioneer resume --reason "incident over"
        """
        reply = _control(ControlAction.RESUME, reason)
        typer.echo(f"resumed: {reply.detail}" if reply.ok else f"resume refused: {reply.detail}")
        if not reply.ok:
            raise typer.Exit(1)
