"""The strategy SDK's acceptance test: a user's strategy file, written to a folder outside the
repository, is backtested, started on the paper stack and seen in `status` and `positions`, all
through the `algopioneer` command a user runs. Both examples, copied out of the repository, trade
on the paper stack: the RSI one round-trips with market orders; the maker one's post-only quotes
rest, fill as maker at the maker fee, and are replaced as the market moves. A broken file is
refused at `start` in one line, and a strategy that raises at run time shows the error in `status`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from shared import subjects
from shared.messages import FeeRates, Liquidity, OrderStatus, OrderType, PaperOrderRecord
from shared.testing import eventually
from tests.e2e.helpers import PAPER_VENUE, PORTFOLIO, Stack, round_trips, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
ALGOPIONEER = str(Path(sys.executable).with_name("algopioneer"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"

FIRST_TICK = '''\
"""Buys once, on the first price it sees: the smallest strategy that trades."""

from decimal import Decimal

from shared.sdk import Bar, Context, Data, Params, Strategy, Tick


class FirstTickParams(Params, frozen=True):
    product_id: str = "BTC-USD"
    size: Decimal = Decimal("0.001")


class FirstTick(Strategy[FirstTickParams]):
    def __init__(self, params: FirstTickParams) -> None:
        super().__init__(params)
        self.bought = False

    def data(self) -> Data:
        return Data(ticks=True, bars_s=60)

    def on_tick(self, tick: Tick, ctx: Context) -> None:
        self.buy_once(ctx)

    def on_bar(self, bar: Bar, ctx: Context) -> None:  # what a backtest delivers
        self.buy_once(ctx)

    def buy_once(self, ctx: Context) -> None:
        if not self.bought and not ctx.warming_up:
            self.bought = ctx.buy(self.params.product_id, self.params.size, tag="first") is not None
'''

BROKEN = """\
from shared.sdk import Params, Strategy


class Broken(Strategy[Params]):
    def on_tick(self, tick, ctx)
        pass
"""

RAISING = """\
from shared.sdk import Context, Params, Strategy, Tick


class RaisingParams(Params, frozen=True):
    product_id: str = "ETH-USD"


class Raising(Strategy[RaisingParams]):
    def on_tick(self, tick: Tick, ctx: Context) -> None:
        raise RuntimeError("boom from a user strategy")
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    # The stack's own portfolio is one built-in instance; the user's strategies arrive by `start`.
    portfolio = [spec for spec in PORTFOLIO if spec["id"] == "e2e-ma"]
    async with running_stack(Path(tmp_path_factory.mktemp("sdk-stack")), portfolio) as running:
        yield running


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A user's own folder: outside the repository, holding nothing of the project."""
    folder = tmp_path / "my-strategies"
    folder.mkdir()
    return folder


async def cli(stack: Stack, cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run `algopioneer ARGS` as a user would, from `cwd`, against the test's stack."""
    info = json.loads((stack.data_dir / "stack.json").read_text())
    env = {
        **os.environ,
        "NATS_URL": info["nats_url"],
        "ALGOPIONEER_NATS__USER": info["nats_user"],
        "ALGOPIONEER_NATS__PASSWORD": info["nats_password"],
    }
    proc = await asyncio.create_subprocess_exec(
        ALGOPIONEER,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def cli_json(stack: Stack, cwd: Path, *args: str) -> Any:
    code, out, err = await cli(stack, cwd, *args)
    assert code == 0, err
    return json.loads(out)


async def describe(stack: Stack, cwd: Path, sid: str) -> str:
    """What `status` shows of an instance and the worker's last error for it (for failures)."""
    status = await cli_json(stack, cwd, "status", "--json")
    shown = next((i for i in status["instances"] if i["id"] == sid), None)
    errors = [
        e["error"] for e in stack.log_lines("strategy", "instance_failed") if e.get("strategy_id") == sid
    ]
    return f"{sid}: status {shown}; last error {errors[-1:]}"


async def wait_instance(
    stack: Stack, cwd: Path, sid: str, ok: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The instance as `algopioneer status --json` shows it, once `ok`."""

    async def check() -> dict[str, Any] | None:
        status = await cli_json(stack, cwd, "status", "--json")
        found = next((i for i in status["instances"] if i["id"] == sid), None)
        return found if found is not None and ok(found) else None

    try:
        found = await eventually(check, timeout_s=60, interval_s=1)
    except AssertionError:
        raise AssertionError(f"{what} not seen within 60s; {await describe(stack, cwd, sid)}") from None
    assert isinstance(found, dict)
    return found


async def test_a_strategy_file_outside_the_repository_backtests_starts_and_trades(
    stack: Stack, user_dir: Path
) -> None:
    (user_dir / "first_tick.py").write_text(FIRST_TICK)
    ref = f"{user_dir / 'first_tick.py'}:FirstTick"
    params = ["--param", "product_id=BTC-USD", "--param", "size=0.001"]

    code, out, err = await cli(
        stack, user_dir, "backtest", "--strategy", ref, *params, "--synthetic", "--json"
    )
    assert code == 0, err
    assert json.loads(out)

    code, _, err = await cli(
        stack, user_dir, "start", "--strategy", ref, *params, "--paper", "--id", "sdk-first"
    )
    assert code == 0, err

    seen = await wait_instance(
        stack, user_dir, "sdk-first", lambda i: i["state"] not in ("", "backoff", "halted"), "running"
    )
    assert seen["kind"] == "FirstTick"
    assert seen["products"] == ["BTC-USD"]

    async def bought() -> dict[str, Any] | None:
        report = await cli_json(stack, user_dir, "positions", "--json")
        row = next((s for s in report["strategies"] if s["id"] == "sdk-first"), None)
        held = {p["product_id"]: Decimal(p["size"]) for p in row["positions"]} if row else {}
        return row if held.get("BTC-USD") == Decimal("0.001") else None

    row = await eventually(bought, timeout_s=60, interval_s=1, what="sdk-first's position")
    assert row["num_fills"] >= 1
    assert row["mode"] == "paper"


async def test_the_rsi_example_round_trips_on_the_paper_stack(stack: Stack, user_dir: Path) -> None:
    shutil.copy(EXAMPLES / "rsi_reversion.py", user_dir / "rsi_reversion.py")
    # One-second bars and a 2-bar RSI between 45 and 55: it enters and exits within seconds.
    code, _, err = await cli(
        stack,
        user_dir,
        "start",
        "--strategy",
        "rsi_reversion.py:RsiReversion",
        *("--param", "product_id=ETH-USD", "--param", "interval_s=1", "--param", "period=2"),
        *("--param", "lower=45", "--param", "upper=55", "--param", "order_size=0.01"),
        "--paper",
        "--id",
        "sdk-rsi",
    )
    assert code == 0, err

    async def round_tripped() -> bool:
        _, records = await stack.paper()
        return round_trips(records).get("sdk-rsi", False)

    try:
        await eventually(round_tripped, timeout_s=90, interval_s=1)
    except AssertionError:
        raise AssertionError(f"no round trip in 90s; {await describe(stack, user_dir, 'sdk-rsi')}") from None
    _, records = await stack.paper()
    kinds = {r.order.order_type for r in records.values() if r.order.strategy_id == "sdk-rsi"}
    assert kinds == {OrderType.MARKET}


async def test_the_maker_example_rests_quotes_that_fill_as_maker_and_replaces_them(
    stack: Stack, user_dir: Path
) -> None:
    assert stack.bus is not None
    shutil.copy(EXAMPLES / "maker_quotes.py", user_dir / "maker_quotes.py")
    code, _, err = await cli(
        stack,
        user_dir,
        "start",
        "--strategy",
        "maker_quotes.py:MakerQuotes",  # relative to the user's folder
        *("--param", "product_id=BTC-USD", "--param", "half_spread_bps=2", "--param", "requote_bps=1"),
        *("--param", "order_size=0.001", "--param", "max_inventory=0.003"),
        "--paper",
        "--id",
        "sdk-maker",
    )
    assert code == 0, err

    seen: Counter[str] = Counter()

    async def made_and_replaced() -> list[PaperOrderRecord] | None:
        _, records = await stack.paper()
        mine = [r for r in records.values() if r.order.strategy_id == "sdk-maker"]
        seen.clear()
        seen.update(r.status.value for r in mine)
        seen.update(f"fill:{f.liquidity.value}" for r in mine for f in r.fills)
        made = any(f.liquidity is Liquidity.MAKER for r in mine for f in r.fills)
        replaced = any(r.status is OrderStatus.CANCELLED and not r.fills for r in mine)
        return mine if made and replaced else None

    try:
        mine = await eventually(made_and_replaced, timeout_s=90, interval_s=1)
    except AssertionError:
        state = await describe(stack, user_dir, "sdk-maker")
        raise AssertionError(
            f"no maker fill and replaced quote in 90s: orders {dict(seen)}; {state}"
        ) from None
    assert mine is not None
    assert all(r.order.order_type is OrderType.LIMIT and r.order.post_only for r in mine)
    rates = await (await stack.bus.kv(subjects.KV_FEE_RATES, FeeRates)).get(subjects.token(PAPER_VENUE))
    assert rates is not None
    for fill in (f for r in mine for f in r.fills):
        assert fill.liquidity is Liquidity.MAKER  # post-only never takes
        assert abs(fill.fee - fill.price * fill.size * rates.value.spot_maker) <= Decimal("0.01")


async def test_a_broken_file_is_refused_at_start_in_one_line(stack: Stack, user_dir: Path) -> None:
    (user_dir / "broken.py").write_text(BROKEN)
    code, _, err = await cli(stack, user_dir, "start", "--strategy", "broken.py:Broken", "--paper")
    assert code == 2
    assert err.strip().count("\n") == 0, err
    assert "broken.py:5: SyntaxError" in err

    (user_dir / "first_tick.py").write_text(FIRST_TICK)
    code, _, err = await cli(
        stack, user_dir, "start", "--strategy", "first_tick.py:FirstTick", "--param", "size=lots", "--paper"
    )
    assert code == 2
    assert err.strip().count("\n") == 0, err
    assert "size" in err


async def test_a_strategy_raising_at_run_time_shows_the_error_in_status(stack: Stack, user_dir: Path) -> None:
    (user_dir / "raising.py").write_text(RAISING)
    code, _, err = await cli(
        stack, user_dir, "start", "--strategy", "raising.py:Raising", "--paper", "--id", "sdk-raising"
    )
    assert code == 0, err

    seen = await wait_instance(
        stack, user_dir, "sdk-raising", lambda i: "boom from a user strategy" in i["detail"], "its error"
    )
    assert seen["state"] in ("backoff", "halted")
    assert seen["kind"] == "Raising"
