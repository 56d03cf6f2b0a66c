"""Risk's KV state and what it publishes about itself.

KV `risk_state`: `state` (`RiskState`), `breaker` (the full `Breaker`, so a restart keeps its
window and probe), `pnl` (`PnlSummary`), `marks` (a `LedgerSnapshot` holding only marks, so a
restart reproduces unrealized PnL exactly). KV `positions`: one `Position` per
`<strategy>.<product>`. KV `risk_limits` key `limits` and KV `products` are read, never written.

State and PnL are published when they change materially, and at least every `interval_ns` anyway.
"""

from __future__ import annotations

import contextlib

import msgspec
import structlog

from services.risk import metrics
from shared import subjects
from shared.bus import Bus, TypedKV
from shared.errors import InvalidSubjectTokenError
from shared.ledger import LedgerSnapshot
from shared.messages import ProductInfo
from shared.messages.risk import PnlSummary, Position, RiskState
from shared.risk import Breaker, RiskLimits

_log = structlog.get_logger("risk")
STATE_KEY, BREAKER_KEY, PNL_KEY, MARKS_KEY, LIMITS_KEY = "state", "breaker", "pnl", "marks", "limits"


def position_key(p: Position) -> str:
    """KV key of one position: `<strategy>.<product>`, each part a valid subject token."""
    return f"{subjects.token(p.strategy_id)}.{subjects.token(p.product_id)}"


def _booked(p: Position | None) -> tuple[object, ...]:
    """What fills change in a position (marks move the rest; those are written when due)."""
    return () if p is None else (p.quantity, p.average_price, p.realized_pnl, p.fees)


class RiskStore:
    """Typed views of the buckets risk uses."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def open(self) -> None:
        """Bind the typed views (the buckets exist: the runtime provisions them)."""
        bus = self.bus
        self.state: TypedKV[RiskState] = await bus.kv(subjects.KV_RISK_STATE, RiskState)
        self.breaker: TypedKV[Breaker] = await bus.kv(subjects.KV_RISK_STATE, Breaker)
        self.pnl: TypedKV[PnlSummary] = await bus.kv(subjects.KV_RISK_STATE, PnlSummary)
        self.marks: TypedKV[LedgerSnapshot] = await bus.kv(subjects.KV_RISK_STATE, LedgerSnapshot)
        self.positions: TypedKV[Position] = await bus.kv(subjects.KV_POSITIONS, Position)
        self.limits: TypedKV[RiskLimits] = await bus.kv(subjects.KV_RISK_LIMITS, RiskLimits)
        self.products: TypedKV[ProductInfo] = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)

    async def load_products(self) -> list[ProductInfo]:
        """Every product in KV; an undecodable entry is logged and skipped."""
        found: list[ProductInfo] = []
        for key in await self.products.keys():
            info = await self.product(key)
            if info is not None:
                found.append(info)
        return found

    async def product(self, key: str) -> ProductInfo | None:
        """One product, or None when absent or invalid."""
        try:
            entry = await self.products.get(key)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            _log.warning("product_invalid", key=key, error=str(exc))
            return None
        return None if entry is None else entry.value


class Reporter:
    """Publishes `RiskState` and `PnlSummary` on change (and periodically), mirrors them into KV."""

    def __init__(self, bus: Bus, store: RiskStore, interval_ns: int) -> None:
        self._bus = bus
        self._store = store
        self._interval_ns = interval_ns
        self._state_key: tuple[object, ...] = ()
        self._state_at = 0
        self._breaker: Breaker | None = None
        self._pnl_key: PnlSummary | None = None
        self._pnl_at = 0
        self._written: dict[str, Position] = {}

    async def state(self, state: RiskState, breaker: Breaker, *, force: bool = False) -> None:
        """Publish and store the risk state if it changed (or is due); store the breaker if it changed."""
        metrics.set_state(state.breaker, state.kill_switch)
        key = (
            state.kill_switch,
            state.kill_reason,
            state.breaker,
            state.consecutive_failures,
            state.breaker_opened_ns,
            state.trading_day,
            state.epoch,
        )
        if force or key != self._state_key or state.updated_ns - self._state_at >= self._interval_ns:
            await self._store.state.put(STATE_KEY, state)
            await self._bus.publish(subjects.RISK_STATE, state)
            self._state_key, self._state_at = key, state.updated_ns
        if breaker != self._breaker:
            await self._store.breaker.put(BREAKER_KEY, breaker)
            self._breaker = breaker

    async def pnl(self, summary: PnlSummary, marks: LedgerSnapshot, *, force: bool = False) -> bool:
        """Publish and store PnL if it changed (or is due); returns whether it did."""
        key = msgspec.structs.replace(summary, summary_ns=0)
        due = summary.summary_ns - self._pnl_at >= self._interval_ns
        if not (force or due or key != self._pnl_key):
            return False
        metrics.set_pnl(summary)
        await self._bus.publish(subjects.RISK_PNL, summary)
        await self._store.pnl.put(PNL_KEY, summary)
        await self._store.marks.put(MARKS_KEY, marks)
        for p in summary.positions:
            with contextlib.suppress(InvalidSubjectTokenError):
                key_ = position_key(p)
                if force or due or _booked(self._written.get(key_)) != _booked(p):
                    await self._store.positions.put(key_, p)
                    self._written[key_] = p
        self._pnl_key, self._pnl_at = key, summary.summary_ns
        return True
