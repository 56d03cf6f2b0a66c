"""The operator's view of the running stack: one model fed from the bus, rendered as JSON or rich.

`algopioneer status` fills it from KV and a short listen; `algopioneer dashboard` (and `up` on a
terminal) keeps it live. Everything comes from NATS: the stack's own published state.
"""

from __future__ import annotations

import collections
import json
import time
from decimal import Decimal
from typing import Any

import msgspec
from rich.console import Group
from rich.table import Table

from services.cli.figures import Figures
from shared import subjects
from shared.bus import Bus
from shared.messages import (
    FeedStatus,
    Fill,
    InstanceLease,
    OrderEvent,
    PnlSummary,
    RiskState,
    ServiceHeartbeat,
    StrategySpec,
    StrategyStatus,
)
from shared.money import exact

RECENT = 12


class StackView:
    """What the operator sees; each `on_*` takes one message, `to_json` / `render` show it all."""

    def __init__(self) -> None:
        self.services: dict[str, ServiceHeartbeat] = {}
        self.feeds: dict[str, FeedStatus] = {}
        self.specs: dict[str, StrategySpec] = {}
        self.instances: dict[str, StrategyStatus] = {}
        self.owners: dict[str, str] = {}
        self.risk: RiskState | None = None
        self.pnl: PnlSummary | None = None
        self.orders: collections.deque[OrderEvent] = collections.deque(maxlen=RECENT)
        self.fills: collections.deque[Fill] = collections.deque(maxlen=RECENT)
        self.figures = Figures()
        """Each shown product's grid, for numbers people read."""

    async def on_heartbeat(self, beat: ServiceHeartbeat) -> None:
        self.services[f"{beat.service}/{beat.instance}"] = beat

    async def on_feed(self, status: FeedStatus) -> None:
        self.feeds[status.venue] = status

    async def on_status(self, status: StrategyStatus) -> None:
        self.instances[status.strategy_id] = status

    async def on_risk(self, state: RiskState) -> None:
        self.risk = state

    async def on_pnl(self, pnl: PnlSummary) -> None:
        self.pnl = pnl

    async def on_order(self, event: OrderEvent) -> None:
        self.orders.append(event)

    async def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    async def load(self, bus: Bus) -> None:
        """Fill the slowly-changing parts from KV (services, specs, risk state and PnL)."""
        beats = await bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)
        for key in await beats.keys():
            entry = await _safe_get(beats, key)
            if entry is not None:
                await self.on_heartbeat(entry)
        specs = await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
        for key in await specs.keys():
            spec = await _safe_get(specs, key)
            if spec is not None:
                self.specs[spec.id] = spec
        leases = await bus.kv(subjects.KV_WORKER_LEASES, InstanceLease)
        for key in await leases.keys():
            lease = await _safe_get(leases, key) if key.startswith("lease.") else None
            if lease is not None:
                self.owners[lease.strategy_id] = lease.worker_id
        state = await _safe_get(await bus.kv(subjects.KV_RISK_STATE, RiskState), "state")
        if state is not None:
            self.risk = state
        pnl = await _safe_get(await bus.kv(subjects.KV_RISK_STATE, PnlSummary), "pnl")
        if pnl is not None:
            self.pnl = pnl

    async def load_grid(self, bus: Bus) -> None:
        """The grid of every product shown, for `render` (the CLI's user reads KV `products`)."""
        await self.figures.load(bus, self.products())

    def products(self) -> set[str]:
        """Every product the view shows a number of."""
        shown = {p for spec in self.specs.values() for p in spec.products}
        shown |= {p for status in self.instances.values() for p, _ in status.position}
        shown |= {p.product_id for p in self.pnl.positions} if self.pnl else set()
        return shown | {o.product_id for o in self.orders} | {f.product_id for f in self.fills}

    async def follow(self, bus: Bus) -> None:
        """Subscribe to everything the view shows: core NATS, except the statuses, read from their
        last-value stream (an ephemeral ordered consumer) so every instance shows at once."""
        await bus.subscribe(subjects.feed_status(subjects.ANY), FeedStatus, self.on_feed, traced=False)
        await bus.follow(
            subjects.strategy_status(subjects.ANY), StrategyStatus, self.on_status, latest_only=True
        )
        await bus.subscribe(subjects.RISK_STATE, RiskState, self.on_risk, traced=False)
        await bus.subscribe(subjects.RISK_PNL, PnlSummary, self.on_pnl, traced=False)
        await bus.subscribe("orders.event.>", OrderEvent, self.on_order, traced=False)
        await bus.subscribe("fills.>", Fill, self.on_fill, traced=False)

    def to_json(self) -> dict[str, Any]:
        """The whole view as plain JSON (Decimals as exact strings, never an exponent)."""
        now = time.time_ns()
        instances = []
        for sid in sorted(set(self.specs) | set(self.instances)):
            spec, status = self.specs.get(sid), self.instances.get(sid)
            instances.append(
                {
                    "id": sid,
                    "kind": spec.kind if spec else (status.kind if status else ""),
                    "products": list(spec.products) if spec else [],
                    "mode": spec.mode.value if spec else "",
                    "venue": spec.order_venue if spec else "",
                    "enabled": spec.enabled if spec else False,
                    "owner": status.worker_id if status else self.owners.get(sid, ""),
                    "state": status.state if status else _unreported(sid in self.owners, spec),
                    "position": {p: exact(q) for p, q in status.position} if status else {},
                    "last_signal": status.last_signal if status else "",
                    "detail": status.detail if status else "",
                }
            )
        return {
            "services": [
                {
                    "service": b.service,
                    "instance": b.instance,
                    "ready": b.ready,
                    "checks": b.checks,
                    "age_s": round((now - b.updated_ns) / 1e9, 1),
                    "details": json.loads(b.details_json or "{}"),
                }
                for b in sorted(self.services.values(), key=lambda b: (b.service, b.instance))
            ],
            "feeds": [exact(f) for f in self.feeds.values()],
            "instances": instances,
            "risk": exact(self.risk) if self.risk else None,
            "pnl": _pnl_json(self.pnl),
            "recent_orders": [exact(o) for o in self.orders],
            "recent_fills": [exact(f) for f in self.fills],
        }

    def render(self) -> Group:
        """Rich tables: services, feed, instances, risk, positions and PnL, recent orders and fills;
        money in cents, prices and sizes on each product's grid."""
        data, fig = self.to_json(), self.figures
        services = Table("service", "instance", "ready", "checks", title="services", expand=True)
        for s in data["services"]:
            failing = [k for k, ok in s["checks"].items() if not ok]
            services.add_row(s["service"], s["instance"], _yes(s["ready"]), ", ".join(failing) or "all ok")
        feeds = Table(
            "venue", "connected", "fresh", "gaps", "reconnects", "malformed", "reason", title="feed"
        )
        for f in data["feeds"]:
            feeds.add_row(
                f["venue"],
                _yes(f["connected"]),
                _yes(not f["stale"]),
                *(str(f[k]) for k in ("gaps", "reconnects", "malformed")),
                f.get("reason", ""),
            )
        instances = Table(
            "id",
            "kind",
            "mode",
            "state",
            "owner",
            "position",
            "last signal",
            title="strategy instances",
            expand=True,
        )
        for i in data["instances"]:
            position = ", ".join(f"{p} {fig.size(p, Decimal(q))}" for p, q in i["position"].items())
            mode = mode_label(i["mode"], i["venue"])
            instances.add_row(i["id"], i["kind"], mode, i["state"], i["owner"], position, i["last_signal"])
        risk = self.risk
        risk_line = (
            f"kill switch: {'ON — ' + risk.kill_reason if risk.kill_switch else 'off'}   breaker: {risk.breaker.value}"
            f"   daily PnL: {fig.money(risk.daily_pnl)}   gross exposure: {fig.money(risk.gross_exposure)}"
            if risk
            else "risk: no state published yet"
        )
        positions = Table(
            "strategy", "product", "qty", "avg", "realized", "unrealized", "fees", title="positions"
        )
        if self.pnl:
            for p in self.pnl.positions:
                positions.add_row(
                    p.strategy_id,
                    p.product_id,
                    fig.size(p.product_id, p.quantity),
                    fig.price(p.product_id, p.average_price),
                    *(fig.money(v, p.product_id) for v in (p.realized_pnl, p.unrealized_pnl, p.fees)),
                )
        pnl = self.pnl
        pnl_line = (
            f"portfolio PnL: {fig.money(pnl.total)} (realized {fig.money(pnl.realized)},"
            f" unrealized {fig.money(pnl.unrealized)}, fees {fig.money(pnl.fees)})"
            if pnl
            else ""
        )
        orders = Table("strategy", "product", "side", "status", "filled", "reason", title="recent orders")
        for o in reversed(self.orders):
            orders.add_row(
                o.strategy_id,
                o.product_id,
                o.side.value,
                o.status.value,
                f"{fig.size(o.product_id, o.filled_size)}/{fig.size(o.product_id, o.size)}",
                o.reason,
            )
        fills = Table("strategy", "product", "side", "size", "price", "fee", title="recent fills")
        for f in reversed(self.fills):
            fills.add_row(
                f.strategy_id,
                f.product_id,
                f.side.value,
                fig.size(f.product_id, f.size),
                fig.price(f.product_id, f.price),
                fig.money(f.fee, f.product_id),
            )
        return Group(services, feeds, instances, risk_line, positions, pnl_line, orders, fills)


def _unreported(leased: bool, spec: StrategySpec | None) -> str:
    """State of an instance whose status was not heard during the listen window."""
    if spec is None:
        return "stopped"
    if not spec.enabled:
        return "disabled"
    return "running" if leased else "unassigned"


def mode_label(mode: str, venue: str) -> str:
    """Paper or LIVE (loud: real money) and where the orders go, e.g. `paper (coinbase-paper)`."""
    if not mode:
        return ""
    shown = mode.upper() if mode == "live" else mode
    return f"{shown} ({venue})" if venue else shown


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _pnl_json(pnl: PnlSummary | None) -> dict[str, Any] | None:
    if pnl is None:
        return None
    return {
        "total": exact(pnl.total),
        "realized": exact(pnl.realized),
        "unrealized": exact(pnl.unrealized),
        "fees": exact(pnl.fees),
        "by_strategy": exact(pnl.by_strategy),
        "by_product": exact(pnl.by_product),
        "positions": [exact(p) for p in pnl.positions],
    }


async def _safe_get(kv: Any, key: str) -> Any:
    """A KV value, or None when absent or of another type (several types share `risk_state`)."""
    try:
        entry = await kv.get(key)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return None if entry is None else entry.value
