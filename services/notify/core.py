"""What the operator is told, pure: which bus events become which messages, and the rate limiter that
turns an incident's thousand events into one message and a digest. Time is always an argument.

Each watcher takes what the bus carries (a fill, a `RiskState`, a `ReconReport`, the heartbeats of KV
`services`, the latest `PnlSummary`) and returns `Note`s; `limiter.RateLimiter` then lets through at
most one note per (kind, key) per interval and folds the rest into a digest sent when it ends.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from shared.messages import Fill, PnlSummary, ReconReport, RiskState, ServiceHeartbeat
from shared.messages.risk import BreakerState
from shared.money import plain

NS = 1_000_000_000
CENT = Decimal("0.01")
NAKED_KINDS = frozenset({"naked_leg", "unhedged"})
"""Reconciliation finding kinds that mean a leg stayed unhedged past its bound."""
MAX_LINES = 5
"""Findings listed in one message; the rest are counted."""


class Kind(enum.StrEnum):
    """A kind of notification: its enable flag and interval are settings of the same name."""

    FILL = "fills"
    HALT = "halts"
    BREAKER = "breaker"
    NAKED_LEG = "naked_legs"
    RECON = "recon"
    NOT_READY = "not_ready"
    DAILY_SUMMARY = "daily_summary"


NOUNS = {
    Kind.FILL: "fills",
    Kind.HALT: "halt/resume messages",
    Kind.BREAKER: "breaker messages",
    Kind.NAKED_LEG: "naked-leg messages",
    Kind.RECON: "reconciliation reports",
    Kind.NOT_READY: "readiness messages",
    Kind.DAILY_SUMMARY: "summaries",
}


class Level(enum.StrEnum):
    """Apprise's notify types."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Note:
    """One message: `kind` and `key` choose its rate limit; `title` and `body` are what is sent."""

    kind: Kind
    key: str
    title: str
    body: str
    level: Level = Level.INFO


def money(value: Decimal) -> str:
    """PnL in the quote currency, to the cent (USD is every product's quote here)."""
    return plain(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


# ---- event → note ----


def fill_note(fill: Fill) -> Note:
    """One line per fill, keyed by venue so paper and live fills are limited apart."""
    line = (
        f"{fill.side.value.upper()} {plain(fill.size)} {fill.product_id} @ {plain(fill.price)}"
        f" (fee {plain(fill.fee)}, {fill.liquidity.value.lower()}) for {fill.strategy_id} on {fill.venue}"
    )
    return Note(Kind.FILL, fill.venue, f"Fill {fill.product_id}", line)


@dataclass
class RiskWatch:
    """Halts, resumes, breaker trips and recoveries: changes between successive `RiskState`s. The first
    state seen reports what stands (a halt or an open breaker), so a restart never hides one."""

    last: RiskState | None = None

    def observe(self, state: RiskState) -> list[Note]:
        before, self.last = self.last, state
        notes: list[Note] = []
        halted_before = before is not None and before.kill_switch
        new_epoch = before is not None and state.epoch > before.epoch
        if state.kill_switch and (not halted_before or new_epoch):
            reason = state.kill_reason or "no reason given"
            notes.append(
                Note(
                    Kind.HALT,
                    "risk",
                    "Trading halted",
                    f"Kill switch on: {reason} (epoch {state.epoch})",
                    Level.FAILURE,
                )
            )
        elif halted_before and not state.kill_switch:
            notes.append(
                Note(Kind.HALT, "risk", "Trading resumed", "Kill switch off: trading resumed", Level.SUCCESS)
            )
        opened_before = before.breaker_opened_ns if before is not None else 0
        if state.breaker is BreakerState.OPEN and state.breaker_opened_ns != opened_before:
            body = f"Circuit breaker open after {state.consecutive_failures} consecutive execution failures"
            notes.append(Note(Kind.BREAKER, "risk", "Breaker tripped", body, Level.FAILURE))
        elif (
            before is not None
            and before.breaker is not BreakerState.CLOSED
            and state.breaker is BreakerState.CLOSED
        ):
            notes.append(
                Note(
                    Kind.BREAKER,
                    "risk",
                    "Breaker closed",
                    "Circuit breaker closed: orders flow",
                    Level.SUCCESS,
                )
            )
        return notes


def _finding_line(kind: str, product: str, strategy: str, detail: str) -> str:
    where = " ".join(x for x in (product, strategy) if x)
    return f"{kind}{f' {where}' if where else ''}{f': {detail}' if detail else ''}"


@dataclass
class ReconWatch:
    """Reconciliation findings not in the venue's previous report: a standing difference is told once,
    and again only after a report without it. Naked legs get their own note per instance."""

    seen: dict[str, frozenset[tuple[str, str, str]]] = field(default_factory=dict)

    def observe(self, report: ReconReport) -> list[Note]:
        current = {(f.kind, f.product_id, f.strategy_id): f for f in report.findings}
        before = self.seen.get(report.venue, frozenset())
        self.seen[report.venue] = frozenset(current)
        new = [f for sig, f in current.items() if sig not in before]
        notes = [
            Note(
                Kind.NAKED_LEG,
                f.strategy_id or report.venue,
                f"Naked leg {f.strategy_id}",
                f"{_finding_line(f.kind, f.product_id, f.strategy_id, f.detail)} (on {report.venue})",
                Level.FAILURE,
            )
            for f in new
            if f.kind in NAKED_KINDS
        ]
        others = [f for f in new if f.kind not in NAKED_KINDS]
        if others:
            lines = [_finding_line(f.kind, f.product_id, f.strategy_id, f.detail) for f in others[:MAX_LINES]]
            if len(others) > MAX_LINES:
                lines.append(f"… and {len(others) - MAX_LINES} more")
            if report.actions:
                lines.append(f"actions: {', '.join(report.actions[:MAX_LINES])}")
            title = f"Reconciliation {report.venue}: {len(others)} finding{'s' if len(others) > 1 else ''}"
            notes.append(Note(Kind.RECON, report.venue, title, "\n".join(lines), Level.WARNING))
        return notes


@dataclass
class _Health:
    since_ns: int
    alerted: bool = False


@dataclass
class ReadinessWatch:
    """A service with a fresh heartbeat that says not ready, or with no fresh heartbeat at all (after
    one was seen), for `after_s` is reported once; its recovery once too. Per service name."""

    after_s: float
    fresh_s: float
    ignore: frozenset[str] = frozenset()
    health: dict[str, _Health] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)

    def observe(self, beats: Iterable[ServiceHeartbeat], now_ns: int) -> list[Note]:
        fresh: dict[str, list[ServiceHeartbeat]] = {}
        for beat in beats:
            if beat.service in self.ignore:
                continue
            self.known.add(beat.service)
            if now_ns - beat.updated_ns <= self.fresh_s * NS:
                fresh.setdefault(beat.service, []).append(beat)
        notes = []
        for service in sorted(self.known):
            live = fresh.get(service, [])
            failing = [b for b in live if not b.ready]
            if live and not failing:
                state = self.health.pop(service, None)
                if state is not None and state.alerted:
                    notes.append(
                        Note(
                            Kind.NOT_READY,
                            service,
                            f"{service} ready",
                            f"{service} is ready again",
                            Level.SUCCESS,
                        )
                    )
                continue
            state = self.health.setdefault(service, _Health(now_ns))
            waited = (now_ns - state.since_ns) / NS
            if state.alerted or waited < self.after_s:
                continue
            state.alerted = True
            if failing:
                why = "; ".join(
                    f"{b.instance}: {', '.join(sorted(k for k, ok in b.checks.items() if not ok)) or 'not ready'}"
                    for b in failing
                )
            else:
                why = "no heartbeat"
            body = f"{service} not ready for {waited:.0f} s ({why})"
            notes.append(Note(Kind.NOT_READY, service, f"{service} not ready", body, Level.FAILURE))
        return notes


def utc_day(now_ns: int) -> str:
    """The UTC date of a time, `YYYY-MM-DD`."""
    return datetime.fromtimestamp(now_ns / NS, UTC).strftime("%Y-%m-%d")


def _minute_of_day(now_ns: int) -> int:
    moment = datetime.fromtimestamp(now_ns / NS, UTC)
    return moment.hour * 60 + moment.minute


@dataclass
class DailySchedule:
    """Once a day at `minute` (after midnight UTC). A start after today's time counts today as done:
    only the crossing sends, so restarts never send a day twice."""

    minute: int
    done_day: str = ""

    @classmethod
    def starting(cls, minute: int, now_ns: int) -> DailySchedule:
        return cls(minute, utc_day(now_ns) if _minute_of_day(now_ns) >= minute else "")

    def due(self, now_ns: int) -> str:
        """The day whose summary is due now ('' when none), marked done."""
        day = utc_day(now_ns)
        if day == self.done_day or _minute_of_day(now_ns) < self.minute:
            return ""
        self.done_day = day
        return day


def summary_note(day: str, pnl: PnlSummary | None) -> Note:
    """The day's PnL: the portfolio, then each strategy (largest first)."""
    if pnl is None:
        return Note(Kind.DAILY_SUMMARY, day, f"PnL {day}", "No PnL reported yet")
    lines = [
        f"total {money(pnl.total)} (realized {money(pnl.realized)}, unrealized {money(pnl.unrealized)}, fees {money(pnl.fees)})"
    ]
    ranked = sorted(pnl.by_strategy.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    lines += [f"{sid}: {money(value)}" for sid, value in ranked[:10]]
    if len(ranked) > 10:
        lines.append(f"… and {len(ranked) - 10} more strategies")
    level = Level.SUCCESS if pnl.total >= 0 else Level.WARNING
    return Note(Kind.DAILY_SUMMARY, day, f"PnL {day}: {money(pnl.total)}", "\n".join(lines), level)
