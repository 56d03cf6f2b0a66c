"""The naked-leg backstop, pure: which dual-leg holders have an unhedged leg, since when, and the
corrective intents that unwind it once nobody else will.

A dual-leg instance normally bounds its own imbalance (its machine hedges or unwinds within
`max_unhedged_ms`, then asks reconciliation to resolve it). That only works while it runs. Once it
is halted (by its supervisor after repeated crashes, by a command, or by an imbalance), orphaned
(no worker renews its lease), stopped, deleted, or moved to another venue, nothing manages its
legs: this module unwinds the excess leg itself, `max_unhedged_ms` after the leg became naked.

What is naked: one leg held and the other flat, both legs on the same side (no hedge looks like
that), or, when the instance's hedge ratio is known (its last snapshot), a leg larger than the
other one hedges by more than one size increment of that leg (the machine's own tolerance).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from services.reconciliation.config import ReconSettings
from services.reconciliation.instances import corrective_intent, in_flight, next_seq
from services.reconciliation.model import Action, Kind, LedgerView, SendIntent
from shared.messages import BasisParams, PairsParams, PluginParams, Purpose, ReconFinding, StrategyParams
from shared.messages.snapshots import InstanceSnapshot
from shared.money import ZERO, round_to_increment

DUAL_KINDS = frozenset({"basis", "pairs"})
"""Built-in strategy kinds that hold two legs which must hedge each other: what a status alone
says when neither spec nor snapshot can be read. A plug-in's kind is its class name, so a plug-in
two-leg instance is known by its params (`legs_of`), from its spec or its snapshot."""
NOT_RUNNING = frozenset({"halted", "failed", "invalid", "lost", "reconciling"})
"""Status states in which an instance does not manage its own legs. `reconciling` is a machine that
used up its hedge and unwind attempts (for example while execution stalled and they expired) and
waits for reconciliation: its naked leg is reconciliation's to unwind, at once, not a cycle later."""
TINY = Decimal("0.00000001")
_MS = 1_000_000
_S = 1_000_000_000


class Condition(enum.StrEnum):
    """Who manages an instance's legs now."""

    RUNNING = "running"
    """Its own machine (reconciliation only resolves it when asked)."""
    HALTED = "halted"
    """Nobody: its status says halted, failed, invalid, or reconciling (its machine gave up)."""
    ORPHANED = "orphaned"
    """Nobody: no worker renewed its lease within `lease_ttl_s`."""
    STOPPED = "stopped"
    """Nobody: its spec is disabled, or its orders now go to another venue."""
    DELETED = "deleted"
    """Nobody: its spec is gone."""


def condition_of(*, spec_found: bool, enabled: bool, here: bool, state: str, lease_live: bool) -> Condition:
    """Classify one holder from its spec (found, enabled, routed to this venue), its latest status
    state ('' when none) and whether a worker renews its lease."""
    if not spec_found:
        return Condition.DELETED
    if not enabled or not here:
        return Condition.STOPPED
    if state in NOT_RUNNING:
        return Condition.HALTED
    if not lease_live:
        return Condition.ORPHANED
    return Condition.RUNNING


@dataclass(frozen=True, slots=True)
class Holder:
    """A dual-leg instance holding a position on this venue, as far as it is known."""

    strategy_id: str
    condition: Condition
    products: tuple[str, str]
    """Leg 1, leg 2."""
    max_unhedged_ms: int
    hedge_ratio: Decimal = ZERO
    """Leg-2 units per leg-1 unit at entry (its last snapshot); zero when unknown."""
    increments: tuple[Decimal, Decimal] = (TINY, TINY)


@dataclass(frozen=True, slots=True)
class NakedPlan:
    """One check: who is naked since when, what to send, and the naked episodes that just ended."""

    since: dict[str, int] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    findings: tuple[ReconFinding, ...] = ()
    ended_ns: tuple[int, ...] = ()
    """How long each episode that ended at this check lasted."""


def legs_of(params: StrategyParams) -> tuple[tuple[str, str], int] | None:
    """A two-leg instance's legs and naked-leg bound (ms) from its params; None for any other
    strategy. A plug-in `TwoLegStrategy`'s spec carries both (`PluginParams.max_unhedged_ms` is
    set only for one), so no user code is loaded here."""
    if isinstance(params, BasisParams):
        return (params.spot_id, params.future_id), params.max_unhedged_ms
    if isinstance(params, PairsParams):
        return (params.leg1_id, params.leg2_id), params.max_unhedged_ms
    if isinstance(params, PluginParams) and params.max_unhedged_ms > 0 and len(params.products) == 2:
        return (params.products[0], params.products[1]), params.max_unhedged_ms
    return None


def hedge_ratio_of(snapshot: InstanceSnapshot) -> Decimal:
    """Leg-2 units per leg-1 unit of a two-leg machine's snapshot (`dual` only in snapshots saved
    before the SDK runtime); zero when it holds none."""
    if snapshot.twoleg is not None:
        return snapshot.twoleg.machine.hedge_ratio
    if snapshot.dual is not None:
        return snapshot.dual.machine.hedge_ratio
    return ZERO


def excess(
    q1: Decimal, q2: Decimal, hedge_ratio: Decimal = ZERO, increments: tuple[Decimal, Decimal] = (TINY, TINY)
) -> tuple[Decimal, Decimal]:
    """Signed quantities to trade on each leg so that what is left is hedged; zeros when it is.
    Without a known hedge ratio, two legs on opposite sides count as hedged."""
    if q1 == ZERO and q2 == ZERO:
        return ZERO, ZERO
    if q1 == ZERO or q2 == ZERO or (q1 > ZERO) == (q2 > ZERO):
        return -q1, -q2
    if hedge_ratio <= ZERO:
        return ZERO, ZERO
    inc1, inc2 = increments
    a1, a2 = abs(q1), abs(q2)
    matched2 = round_to_increment(a1 * hedge_ratio, inc2, mode="nearest")
    if abs(a2 - matched2) <= inc2:
        return ZERO, ZERO
    if a2 > matched2:
        cut2 = round_to_increment(a2 - matched2, inc2)
        return ZERO, (-cut2 if q2 > ZERO else cut2)
    cut1 = round_to_increment(a1 - round_to_increment(a2 / hedge_ratio, inc1), inc1)
    return (-cut1 if q1 > ZERO else cut1), ZERO


def plan(
    holders: Iterable[Holder],
    ledger: LedgerView,
    since: Mapping[str, int],
    moved_ns: Mapping[str, int],
    now_ns: int,
    settings: ReconSettings,
) -> NakedPlan:
    """Track every naked holder (running ones too: their age is measured), and unwind the excess
    of those nobody manages once naked for their `max_unhedged_ms`: one corrective per leg to
    trade, never while one of theirs is still in flight or was sent within `naked_retry_s`.

    A leg is naked from the moment its position last moved (`moved_ns`, when first seen naked),
    so the check interval adds to the bound only once."""
    still: dict[str, int] = {}
    actions: list[Action] = []
    findings: list[ReconFinding] = []
    for h in holders:
        sid = h.strategy_id
        q = tuple(ledger.positions.get((sid, p), ZERO) for p in h.products)
        trade = excess(q[0], q[1], h.hedge_ratio, h.increments)
        if trade == (ZERO, ZERO):
            continue
        start = since.get(sid, min(moved_ns.get(sid, now_ns), now_ns))
        still[sid] = start
        age = now_ns - start
        if h.condition is Condition.RUNNING or age < h.max_unhedged_ms * _MS:
            continue
        if any(in_flight(ledger, sid, p, now_ns, settings) for p in h.products):
            continue
        if _sent_within(ledger, sid, now_ns - int(settings.naked_retry_s * _S)):
            continue
        shown = ", ".join(f"{p}={x}" for p, x in zip(h.products, q, strict=True))
        reason = f"naked leg of a {h.condition.value} instance ({shown}) for {age / _S:.3f}s"
        seq = next_seq(ledger, sid, actions)
        for leg, (product, qty) in enumerate(zip(h.products, trade, strict=True), start=1):
            if qty != ZERO:
                intent = corrective_intent(settings, sid, product, qty, seq, leg, now_ns, reason)
                actions.append(SendIntent(intent=intent))
        findings.append(ReconFinding(kind=Kind.NAKED_LEG.value, strategy_id=sid, detail=reason))
    ended = tuple(now_ns - start for sid, start in sorted(since.items()) if sid not in still)
    return NakedPlan(since=still, actions=tuple(actions), findings=tuple(findings), ended_ns=ended)


def _sent_within(ledger: LedgerView, strategy_id: str, after_ns: int) -> bool:
    return any(
        o.strategy_id == strategy_id and o.purpose is Purpose.CORRECTIVE and o.created_ns > after_ns
        for o in ledger.orders.values()
    )


def oldest_age_ns(since: Mapping[str, int], now_ns: int) -> int:
    """The age of the oldest naked leg still open (0 when none)."""
    return max((now_ns - start for start in since.values()), default=0)


def held_by(ledger: LedgerView, external_id: str) -> Sequence[str]:
    """Every strategy holding a position on this venue, but the owner of outside trades."""
    return sorted({sid for (sid, _), qty in ledger.positions.items() if qty != ZERO and sid != external_id})
