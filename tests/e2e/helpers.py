"""The whole paper stack as processes, for e2e and chaos tests: the real `Launcher` (nats-server from
the wheel, the exchange simulator, every service), a test-owned portfolio, a bus of the test's own,
and the checks that compare the risk ledger with the paper venue's account.

In the paper profile the fills come from the `execution` service's paper venue (KV `paper_account`),
not from the simulator's matching engine: the simulator only supplies market data (and keys). So the
ledger is compared with the paper account, and the simulator's own account is checked to be untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import ssl
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from services.launcher import Launcher
from services.stack import LIVE, PAPER, services_for
from shared import codec, streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import (
    ControlAction,
    ControlCommand,
    ControlReply,
    PaperAccountState,
    PaperOrderRecord,
    StrategySpec,
)
from shared.messages.risk import Position
from shared.money import ZERO
from shared.routing import execution_venue
from shared.tasks import within
from shared.testing import eventually, free_port
from shared.testing.otlp import OtlpReceiver
from shared.venue import default_products

VENUE = "coinbase"
"""The market: where prices come from (the simulator plays Coinbase)."""
PAPER_VENUE = execution_venue(VENUE, "paper")
"""Where paper specs' orders go: the paper execution fills them on the market's data."""
PAPER_PREFIX = f"{PAPER_VENUE}.paper"
INITIAL = {"USD": "100000", "BTC": "1", "ETH": "20", "SOL": "500"}
"""Paper wallets: spot pairs sell one leg, so the account holds some of every base currency."""

# Short windows and long entry cooldowns: every instance opens and closes within seconds, then
# the dual-leg ones stay flat (one round trip each) so the end state is quiet enough to compare.
# A stop loss of -0.01 bps closes a dual-leg position on the first tick after entry (fees alone
# put it below that), so closing does not depend on where prices wander.
PORTFOLIO: list[dict[str, Any]] = [
    {
        "id": "e2e-ma",
        "params": {
            "type": "ma_crossover",
            "product_id": "BTC-USD",
            "short_window": 2,
            "long_window": 3,
            "interval_s": 1,
            "order_size": "0.001",
        },
    },
    {
        "id": "e2e-basis",
        "params": {
            "type": "basis",
            "spot_id": "BTC-USD",
            "future_id": "BIP-20DEC30-CDE",
            "notional": "1000",
            "entry_bps": "-10000",
            "exit_bps": "-10001",
            "stop_loss_bps": "-0.01",
            "entry_cooldown_ms": 3_600_000,
            "exit_cooldown_ms": 0,
        },
    },
    {
        "id": "e2e-pairs",
        "params": {
            "type": "pairs",
            "leg1_id": "ETH-USD",
            "leg2_id": "SOL-USD",
            "window": 5,
            "entry_z": 0.3,
            "exit_z": 0.0,
            "notional": "200",
            "hedge_ratio": "fixed",
            "stop_loss_bps": "-0.01",
            "entry_cooldown_ms": 3_600_000,
            "exit_cooldown_ms": 0,
        },
    },
]

STACK_ENV = {
    "ALGOPIONEER_STRATEGY__WARMUP_TIMEOUT_S": "0.2",
    "ALGOPIONEER_STRATEGY__HEARTBEAT_INTERVAL_S": "0.5",
    "ALGOPIONEER_STRATEGY__LEASE_TTL_S": "2",
    "ALGOPIONEER_EXECUTION__ACK_WAIT_S": "5",
    # The bound on a naked leg is reconciliation's: a cycle finds it, max_unhedged_s later it acts.
    "ALGOPIONEER_RECONCILIATION__INTERVAL_S": "2",
    "ALGOPIONEER_RECONCILIATION__MAX_UNHEDGED_S": "5",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_BSP_SCHEDULE_DELAY": "200",
}


def contract_sizes() -> dict[str, Decimal]:
    """Base units per contract of the simulator's products (1 for spot)."""
    return {p.product_id: p.contract_size for p in default_products(0)}


def futures() -> set[str]:
    """Product ids of the simulator's futures."""
    return {p.product_id for p in default_products(0) if p.is_future}


def base_currency(product_id: str) -> str:
    return product_id.split("-", 1)[0]


class Stack:
    """A running paper stack plus the test's own view of it."""

    def __init__(
        self,
        data_dir: Path,
        portfolio: list[dict[str, Any]],
        extra_env: dict[str, str] | None = None,
        *,
        with_live: bool = False,
    ):
        self.data_dir = data_dir
        self.with_live = with_live
        """Also run the live execution, trading at the simulator as if it were Coinbase (the paper
        execution keeps filling paper specs on the same feed: paper twins of live strategies)."""
        self.portfolio_specs = portfolio
        self.extra_env = extra_env or {}
        self.receiver = OtlpReceiver()
        self.launcher: Launcher | None = None
        self.task: asyncio.Task[int] | None = None
        self.bus: Bus | None = None
        self.http: aiohttp.ClientSession | None = None
        self.sim: dict[str, Any] = {}
        self.ports: dict[str, int] = {}

    # ---- lifecycle ----
    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        portfolio = self.data_dir / "portfolio.json"
        portfolio.write_text(json.dumps(self.portfolio_specs))
        config = self.data_dir / "settings.toml"
        balances = "\n".join(f'{k} = "{v}"' for k, v in INITIAL.items())
        config.write_text(f"[execution.paper.initial_balances]\n{balances}\n")
        self.receiver.__enter__()
        wanted = services_for(PAPER)
        if self.with_live:
            wanted += [e for e in services_for(LIVE) if e not in wanted and e.module == "services.execution"]
        entries = [dataclasses.replace(e, http_port=free_port()) for e in wanted if e.available]
        self.ports = {e.name: e.http_port for e in entries}
        env = {
            **STACK_ENV,
            "ALGOPIONEER_CONFIG": str(config),
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.receiver.endpoint,
            **self.extra_env,
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the launcher hands its environment to every service it spawns
        try:
            self.launcher = Launcher(self.data_dir, nats_port=-1, entries=entries, portfolio=portfolio)
            self.task = asyncio.create_task(self.launcher.run())
            started = asyncio.create_task(self.launcher.started.wait())
            done, _ = await asyncio.wait(
                {started, self.task}, timeout=60, return_when=asyncio.FIRST_COMPLETED
            )
            if started not in done:
                started.cancel()
                raise AssertionError(f"stack did not start; logs in {self.data_dir / 'logs'}")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.sim = json.loads((self.data_dir / "sim" / "sim.json").read_text())
        self.bus = await Bus.connect(NatsSettings(url=self.launcher.nats.url), service="e2e-test")
        await streams.provision(self.bus.js)
        ssl_ctx = ssl.create_default_context(cafile=self.sim["ca_path"])
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_ctx))
        await eventually(self.all_ready, timeout_s=60, interval_s=0.2, what="every service /ready")

    async def stop(self) -> None:
        """Stop everything within bounded time: the test's own clients first, then the stack."""
        if self.http is not None:
            await within(self.http.close(), 5)
        if self.bus is not None:
            await within(self.bus.close(), 15)
        if self.launcher is not None and self.task is not None:
            self.launcher.stopping.set()
            await within(self.task, 90)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):  # the launcher installed handlers in our loop
                loop.remove_signal_handler(sig)
        self.receiver.__exit__(None, None, None)

    # ---- probes ----
    async def ready(self, name: str) -> bool:
        return await self._unready(name) is None

    async def _unready(self, name: str) -> str | None:
        """None when the service's `/ready` answers 200, else what it answered (or the error)."""
        assert self.http is not None
        try:
            async with self.http.get(f"http://127.0.0.1:{self.ports[name]}/ready", timeout=2) as resp:
                return None if resp.status == 200 else f"{resp.status} {await resp.text()}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return repr(exc)

    async def all_ready(self) -> bool:
        return not await self.not_ready()

    async def not_ready(self) -> dict[str, str]:
        """Each service whose `/ready` is not 200, with the body it answered (what failed)."""
        answers = {name: await self._unready(name) for name in self.ports}
        return {name: answer for name, answer in answers.items() if answer is not None}

    async def wait_all_ready(self, timeout_s: float, what: str) -> None:
        """Wait until every service is ready; on timeout say which were not, and why."""
        try:
            await eventually(self.all_ready, timeout_s=timeout_s, interval_s=0.3)
        except AssertionError:
            raise AssertionError(f"not ready within {timeout_s}s {what}: {await self.not_ready()}") from None

    async def metrics(self, name: str) -> str:
        assert self.http is not None
        async with self.http.get(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=5) as resp:
            return await resp.text()

    async def metric(self, name: str, metric: str, **labels: str) -> float:
        """Sum of a Prometheus sample over the series matching `labels` (0 when absent)."""
        total = 0.0
        for line in (await self.metrics(name)).splitlines():
            if not line.startswith(metric + "{") and not line.startswith(metric + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    async def metric_prefix(self, name: str, metric: str, label: str, prefix: str) -> float:
        """Sum of a Prometheus sample over the series whose `label` starts with `prefix`."""
        total = 0.0
        for line in (await self.metrics(name)).splitlines():
            if line.startswith(metric + "{") and f'{label}="{prefix}' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def log_lines(self, name: str, event: str | None = None) -> list[dict[str, Any]]:
        path = self.data_dir / "logs" / f"{name}.log"
        out = []
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event is None or record.get("event") == event:
                out.append(record)
        return out

    async def sim_control(self, action: str, body: dict[str, Any] | None = None) -> Any:
        assert self.http is not None
        async with self.http.post(f"{self.sim['control']}/{action}", json=body or {}, timeout=10) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def sim_state(self) -> dict[str, Any]:
        assert self.http is not None
        async with self.http.get(f"{self.sim['control']}/state", timeout=10) as resp:
            data: dict[str, Any] = await resp.json()
            return data

    def managed(self, name: str) -> Any:
        assert self.launcher is not None
        return next(m for m in self.launcher.managed if m.entry.name == name)

    # ---- state ----
    async def paper(self) -> tuple[PaperAccountState | None, dict[str, PaperOrderRecord]]:
        """The paper venue's account and every order record, from KV `paper_account`."""
        assert self.bus is not None
        account_kv = await self.bus.kv(subjects.KV_PAPER_ACCOUNT, PaperAccountState)
        orders_kv = await self.bus.kv(subjects.KV_PAPER_ACCOUNT, PaperOrderRecord)
        entry = await account_kv.get(f"{PAPER_PREFIX}.account")
        records: dict[str, PaperOrderRecord] = {}
        for key in await orders_kv.keys():
            if key.startswith(f"{PAPER_PREFIX}.order."):
                got = await orders_kv.get(key)
                if got is not None:
                    records[got.value.order.client_order_id] = got.value
        return (None if entry is None else entry.value), records

    async def positions(self) -> dict[tuple[str, str], Position]:
        """Risk's ledger as written to KV `positions`, by (strategy, product)."""
        assert self.bus is not None
        kv = await self.bus.kv(subjects.KV_POSITIONS, Position)
        out: dict[tuple[str, str], Position] = {}
        for key in await kv.keys():
            got = await kv.get(key)
            if got is not None:
                out[(got.value.strategy_id, got.value.product_id)] = got.value
        return out

    async def specs(self) -> list[StrategySpec]:
        assert self.bus is not None
        kv = await self.bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
        return [e.value for key in await kv.keys() if (e := await kv.get(key)) is not None]

    async def ledger_mismatches(self) -> list[str]:
        """Every way risk's ledger differs from the paper account (empty = equal to the last decimal)."""
        return compare(*(await self.paper()), await self.positions())


def fills_by_position(records: dict[str, PaperOrderRecord]) -> dict[tuple[str, str], list[Any]]:
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for record in records.values():
        for fill in record.fills:
            grouped[(fill.strategy_id, fill.product_id)].append(fill)
    return grouped


def compare(
    account: PaperAccountState | None,
    records: dict[str, PaperOrderRecord],
    positions: dict[tuple[str, str], Position],
) -> list[str]:
    """Exact comparison of the ledger (risk's KV `positions`) with the paper venue:

    * per (strategy, product): the ledger's signed quantity and fees equal the sums over the paper
      venue's fills of that strategy and product;
    * per currency: the wallet's change since the start equals what the ledger implies — base
      currencies the sum of spot quantities, USD the sum of realized PnL (net of fees) minus the
      open cost basis of spot positions, plus futures realized PnL (net of fees);
    * per future: the venue position's contracts equal the sum of the ledger's quantities.
    """
    problems: list[str] = []
    if account is None:
        return ["no paper account in KV"]
    sizes = contract_sizes()
    grouped = fills_by_position(records)
    trade_ids = [f.trade_id for fills in grouped.values() for f in fills]
    if len(trade_ids) != len(set(trade_ids)):
        problems.append("duplicate trade ids in the paper venue's records")
    for key in sorted(set(grouped) | {k for k, p in positions.items() if p.quantity or p.fees}):
        fills = grouped.get(key, [])
        qty = sum((f.side.sign * f.size for f in fills), ZERO)
        fees = sum((f.fee for f in fills), ZERO)
        pos = positions.get(key)
        if pos is None:
            problems.append(f"{key}: {len(fills)} fills at the venue, no ledger position")
            continue
        if pos.quantity != qty:
            problems.append(f"{key}: ledger quantity {pos.quantity} != venue fills {qty}")
        if pos.fees != fees:
            problems.append(f"{key}: ledger fees {pos.fees} != venue fees {fees}")
    expected: dict[str, Decimal] = defaultdict(lambda: ZERO)
    futures_contracts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (_, product_id), pos in positions.items():
        size = sizes.get(product_id, Decimal(1))
        if pos.quantity == 0:
            cost = ZERO
        elif pos.mark is None:
            problems.append(f"{product_id}: open position without a mark, cost basis unknown")
            continue
        else:
            cost = pos.quantity * pos.mark - pos.unrealized_pnl / size
        if product_id in futures():
            futures_contracts[product_id] += pos.quantity
            expected["USD"] += pos.realized_pnl
        else:
            expected[base_currency(product_id)] += pos.quantity
            expected["USD"] += pos.realized_pnl - cost
    for currency in sorted(set(expected) | set(account.balances)):
        initial = Decimal(INITIAL.get(currency, "0"))
        change = account.balances.get(currency, ZERO) - initial
        if change != expected[currency]:
            problems.append(f"{currency}: wallet change {change} != ledger {expected[currency]}")
    for product_id in sorted(set(futures_contracts) | set(account.positions)):
        held = account.positions[product_id].contracts if product_id in account.positions else ZERO
        if held != futures_contracts[product_id]:
            problems.append(f"{product_id}: venue contracts {held} != ledger {futures_contracts[product_id]}")
    return problems


def round_trips(records: dict[str, PaperOrderRecord]) -> dict[str, bool]:
    """Per strategy: did its position go from flat to open and back to flat (in fill order)?"""
    by_strategy: dict[str, list[Any]] = defaultdict(list)
    for record in records.values():
        by_strategy[record.order.strategy_id].extend(record.fills)
    done: dict[str, bool] = {}
    for sid, fills in by_strategy.items():
        held: dict[str, Decimal] = defaultdict(lambda: ZERO)
        opened = closed = False
        for fill in sorted(fills, key=lambda f: (f.fill_ns, f.trade_id)):
            held[fill.product_id] += fill.side.sign * fill.size
            if any(held.values()):
                opened = True
            elif opened:
                closed = True
        done[sid] = opened and closed
    return done


def trace_gaps(stack: Stack, records: dict[str, PaperOrderRecord]) -> list[str]:
    """For each strategy order the paper venue handled: its trace holds strategy.decide (strategy) →
    intent consumer (risk) → approved-order consumer (execution) → a fill consumer, one trace id."""
    spans = stack.receiver.snapshot()
    by_trace: dict[str, list[Any]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    handled = {r["client_order_id"]: r for r in stack.log_lines("execution-paper", "order_handled")}
    gaps = []
    for coid, record in records.items():
        log = handled.get(coid)
        if log is None or "trace_id" not in log:
            gaps.append(f"{coid}: no traced order_handled log line")
            continue
        trace = by_trace.get(log["trace_id"], [])
        names = {(s.service, s.name) for s in trace}
        want = [
            ("strategy", "strategy.decide"),
            ("risk", "process orders.intent"),
            ("execution-paper", "process orders.approved"),
        ]
        missing = [w for w in want if w not in names]
        filled_in_trace = record.fills and log.get("status") == "filled"
        fills_span = f"process fills.{PAPER_VENUE}"
        if filled_in_trace and not any(name == fills_span for _, name in names):
            missing.append(("*", fills_span))
        if missing:
            gaps.append(f"{coid} trace {log['trace_id']}: missing {missing}")
    return gaps


@contextlib.asynccontextmanager
async def running_stack(
    data_dir: Path,
    portfolio: list[dict[str, Any]] | None = None,
    extra_env: dict[str, str] | None = None,
    *,
    with_live: bool = False,
) -> AsyncIterator[Stack]:
    stack = Stack(data_dir, portfolio if portfolio is not None else PORTFOLIO, extra_env, with_live=with_live)
    try:
        await stack.start()
        yield stack
    finally:
        await stack.stop()


async def halt(stack: Stack, reason: str) -> None:
    """Switch the kill switch on: only risk-reducing orders pass, so the books settle down."""
    assert stack.bus is not None
    command = ControlCommand(
        action=ControlAction.HALT, reason=reason, operator="e2e", requested_ns=time.time_ns()
    )
    reply = await stack.bus.request(subjects.RISK_CONTROL, command, ControlReply, timeout=5.0)
    assert reply.ok, reply.detail


async def settled_and_equal(stack: Stack, *, timeout_s: float = 30.0) -> dict[str, PaperOrderRecord]:
    """Wait until no paper order is open and the ledger equals the paper account; return the records."""
    last: list[str] = []

    async def check() -> dict[str, PaperOrderRecord] | None:
        nonlocal last
        account, records = await stack.paper()
        if any(r.is_open for r in records.values()):
            last = ["open orders at the paper venue"]
            return None
        last = compare(account, records, await stack.positions())
        return None if last else records

    try:
        result: dict[str, PaperOrderRecord] = await eventually(check, timeout_s=timeout_s, interval_s=0.3)
    except AssertionError:
        raise AssertionError(f"ledger != paper account: {last}") from None
    return result


DUAL_LEGS = {"e2e-basis": ("BTC-USD", "BIP-20DEC30-CDE"), "e2e-pairs": ("ETH-USD", "SOL-USD")}


def naked_legs(positions: dict[tuple[str, str], Position]) -> list[str]:
    """Dual-leg instances holding one leg without the other."""
    naked = []
    for sid, (leg1, leg2) in DUAL_LEGS.items():
        q1 = positions[(sid, leg1)].quantity if (sid, leg1) in positions else ZERO
        q2 = positions[(sid, leg2)].quantity if (sid, leg2) in positions else ZERO
        if (q1 == 0) != (q2 == 0):
            naked.append(f"{sid}: {leg1} {q1}, {leg2} {q2}")
    return naked


def order_anomalies(records: dict[str, PaperOrderRecord]) -> list[str]:
    """Double execution at the paper venue: an order filled beyond its size, or a trade id twice."""
    problems = []
    seen: set[str] = set()
    for coid, record in records.items():
        if record.filled_size > record.order.size:
            problems.append(f"{coid}: filled {record.filled_size} > size {record.order.size}")
        for fill in record.fills:
            if fill.trade_id in seen:
                problems.append(f"trade {fill.trade_id} booked twice")
            seen.add(fill.trade_id)
            if fill.client_order_id != coid:
                problems.append(f"{coid}: holds a fill of {fill.client_order_id}")
    return problems


async def stream_messages(stack: Stack, stream: str, message_type: type[Any]) -> list[Any]:
    """Every message a stream holds now, decoded (undecodable ones skipped)."""
    assert stack.bus is not None
    info = await stack.bus.js.stream_info(stream)
    total = int(info.state.messages)
    subject = subjects.STREAM_SUBJECTS[stream][0]
    psub = await stack.bus.js.pull_subscribe(subject, stream=stream)
    out: list[Any] = []
    seen = 0
    try:
        while seen < total:
            try:
                batch = await psub.fetch(256, timeout=2)
            except TimeoutError:
                break
            for msg in batch:
                seen += 1
                with contextlib.suppress(Exception):
                    out.append(codec.decode(msg.data, message_type))
                await msg.ack()
    finally:
        await psub.unsubscribe()
    return out
