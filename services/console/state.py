"""The console page's model, folded from bus messages: pure (no I/O), so it is tested without NATS.

The stack's view (services, feeds, instances and owners, breaker and kill switch, PnL) is the CLI's
`StackView`; positions per strategy are the CLI's `positions` report. Added here: the latest event
of each recent order with its trace id (a link into Jaeger), recent fills, and the day's equity
curve sampled from risk's PnL summaries. The JSON keeps exact decimals, never in exponent notation.
"""

from __future__ import annotations

import collections
import datetime
from decimal import Decimal
from typing import Any

from services.cli.positions import build_report
from services.cli.view import StackView
from shared.messages import Fill, OrderEvent, PnlSummary
from shared.money import exact, plain

RECENT_ORDERS = 25
RECENT_FILLS = 25
EQUITY_RECENT_S = 60
"""Live updates carry the curve's points of the last minute; the page appends the ones it lacks."""
_NUMBER_FIELDS = ("size", "avg_price", "realized_pnl", "unrealized_pnl", "fees", "gross_exposure")
_S = 1_000_000_000


def _plain_numbers(row: dict[str, Any]) -> dict[str, Any]:
    """The positions report's numbers (`str(Decimal)`, so `0E-8` may appear) as plain strings."""
    return {k: plain(Decimal(v)) if k in _NUMBER_FIELDS and v != "" else v for k, v in row.items()}


def _day(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / _S, tz=datetime.UTC).date().isoformat()


class ConsoleState:
    """Everything the page shows; `on_*` take messages, `snapshot` renders the page's JSON."""

    def __init__(self, *, jaeger_url: str, equity_every_s: float = 10.0) -> None:
        self.view = StackView()
        self.jaeger_url = jaeger_url.rstrip("/")
        self.equity_every_ns = int(equity_every_s * _S)
        self.orders: collections.OrderedDict[str, tuple[OrderEvent, str]] = collections.OrderedDict()
        self.fills: collections.deque[tuple[Fill, str]] = collections.deque(maxlen=RECENT_FILLS)
        self.fill_counts: collections.Counter[str] = collections.Counter()
        self.equity: list[tuple[int, Decimal]] = []
        """(time ns, portfolio PnL) of the current UTC day, at least `equity_every_s` apart."""

    async def on_order(self, event: OrderEvent, trace_id: str = "") -> None:
        """The latest event of each recent order, with the trace it belongs to."""
        previous = self.orders.pop(event.client_order_id, None)
        self.orders[event.client_order_id] = (event, trace_id or (previous[1] if previous else ""))
        while len(self.orders) > RECENT_ORDERS:
            self.orders.popitem(last=False)

    async def on_fill(self, fill: Fill, trace_id: str = "") -> None:
        self.fills.append((fill, trace_id))
        self.fill_counts[fill.strategy_id] += 1

    async def on_pnl(self, pnl: PnlSummary) -> None:
        """Keep the summary and sample the day's equity curve (a new day starts a new curve)."""
        await self.view.on_pnl(pnl)
        if self.equity and _day(self.equity[-1][0]) != _day(pnl.summary_ns):
            self.equity.clear()
        if not self.equity or pnl.summary_ns - self.equity[-1][0] >= self.equity_every_ns:
            self.equity.append((pnl.summary_ns, pnl.total))

    def replace_kv(self, fresh: StackView) -> None:
        """Take the KV-backed parts (services, specs, owners) of a view just loaded: expired
        heartbeats and deleted specs go away, which following the messages alone never shows."""
        self.view.services = fresh.services
        self.view.specs = fresh.specs
        self.view.owners = fresh.owners
        if self.view.risk is None:
            self.view.risk = fresh.risk
        if self.view.pnl is None and fresh.pnl is not None:
            self.view.pnl = fresh.pnl

    def trace_url(self, trace_id: str) -> str:
        return f"{self.jaeger_url}/trace/{trace_id}" if trace_id else ""

    def snapshot(self, now_ns: int, *, full_curve: bool = True) -> dict[str, Any]:
        """The page's JSON. Without `full_curve` (live updates) only the curve's last minute."""
        view = self.view.to_json()
        pnl = self.view.pnl
        report = build_report(list(pnl.positions) if pnl else [], self.view, dict(self.fill_counts))
        enabled = {i["id"]: i for i in view["instances"]}
        strategies = []
        for row in report["strategies"]:
            row = _plain_numbers(row)
            row["positions"] = [_plain_numbers(p) for p in row["positions"]]
            instance = enabled.get(row["id"], {})
            row["enabled"] = instance.get("enabled", False)
            row["has_spec"] = row["id"] in self.view.specs
            row["last_signal"] = instance.get("last_signal", "")
            strategies.append(row)
        since = now_ns - EQUITY_RECENT_S * _S
        curve = [(t, v) for t, v in self.equity if full_curve or t >= since]
        return {
            "time_ns": now_ns,
            "services": view["services"],
            "feeds": view["feeds"],
            "strategies": strategies,
            "portfolio": _plain_numbers(report["portfolio"]),
            "positions": [exact(p) for p in pnl.positions] if pnl else [],
            "pnl": exact({k: getattr(pnl, k) for k in ("total", "realized", "unrealized", "fees")})
            if pnl
            else None,
            "risk": exact(self.view.risk) if self.view.risk else None,
            "orders": [
                exact(e) | {"trace_id": t, "trace_url": self.trace_url(t)}
                for e, t in reversed(self.orders.values())
            ],
            "fills": [
                exact(f) | {"trace_id": t, "trace_url": self.trace_url(t)} for f, t in reversed(self.fills)
            ],
            "equity": {"full": full_curve, "points": [[t // 1_000_000, plain(v)] for t, v in curve]},
        }
