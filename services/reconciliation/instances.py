"""Pure decisions about strategy instances and policies: who gets `resolve`, when an imbalance
has lasted too long, and the corrective intents and halts a policy asks for.

Corrective intents go to the execution venue reconciled, with a placement deadline
(`corrective_ttl_s`). They get deterministic ids in their own namespace (`recon-<venue>-<sid>`), with
the sequence taken from the corrective intents already on the INTENTS stream: a restarted service
computes the same id, and the stream's de-duplication stores a repeated one once. One already in
flight (not settled yet: no terminal event, or fills still to be booked; younger than
`corrective_timeout_s`) is never doubled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal

from services.reconciliation.config import ReconSettings
from services.reconciliation.model import (
    Action,
    HaltInstance,
    InstanceView,
    Kind,
    LedgerView,
    Memory,
    Outcome,
    Policy,
    PositionKey,
    ResolveInstance,
    ResolveOutcome,
    SendIntent,
)
from shared.messages import OrderIntent, OrderType, Purpose, ReconFinding, Side, TimeInForce
from shared.messages import client_order_id as make_coid
from shared.money import ZERO

RECONCILING = "reconciling"
HALTED = "halted"
AT_REST = ("flat", "in_position")
IMBALANCED = "imbalanced_after_reconcile"
_S = 1_000_000_000


def plan_instances(
    instances: Sequence[InstanceView],
    positions: Mapping[PositionKey, Decimal],
    busy: set[str],
    memory: Memory,
    now_ns: int,
    settings: ReconSettings,
    findings: list[ReconFinding],
) -> tuple[Memory, list[Action]]:
    """Resolve every instance waiting in Reconciling (or Halted by an imbalance we track) with its
    quantities after this cycle's repairs. One with orders still working at the venue waits, but
    never longer than `max_unhedged_s`: nothing stays stuck."""
    reconciling: dict[str, int] = {}
    unhedged = dict(memory.unhedged_since)
    actions: list[Action] = []
    bound = int(settings.max_unhedged_s * _S)
    for inst in instances:
        sid = inst.strategy_id
        if inst.state in AT_REST:
            unhedged.pop(sid, None)
        imbalanced = inst.state == HALTED and (inst.detail.startswith(IMBALANCED) or sid in unhedged)
        if inst.state != RECONCILING and not imbalanced:
            continue
        since = memory.reconciling_since.get(sid, now_ns)
        reconciling[sid] = since
        quantities = tuple(positions.get((sid, p), ZERO) for p in inst.products)
        shown = ", ".join(f"{p}={q}" for p, q in zip(inst.products, quantities, strict=True))
        waiting = sid in busy and now_ns - since <= bound
        findings.append(
            ReconFinding(
                kind=Kind.INSTANCE_RECONCILING.value,
                strategy_id=sid,
                detail=f"{inst.state} ({inst.detail}); "
                + ("waiting for its working orders" if waiting else f"resolving with {shown}"),
            )
        )
        if not waiting:
            actions.append(
                ResolveInstance(
                    strategy_id=sid, products=inst.products, positions=quantities, reason="reconciliation"
                )
            )
    return Memory(reconciling_since=reconciling, unhedged_since=unhedged, baseline=memory.baseline), actions


def escalate(
    outcomes: Sequence[ResolveOutcome],
    ledger: LedgerView,
    memory: Memory,
    now_ns: int,
    settings: ReconSettings,
) -> Outcome:
    """After `resolve`: at rest is done; still imbalanced starts (or continues) the unhedged clock,
    and past `max_unhedged_s` the `unhedged` policy acts (unwind every leg, or halt)."""
    findings: list[ReconFinding] = []
    actions: list[Action] = []
    unhedged = dict(memory.unhedged_since)
    reconciling = dict(memory.reconciling_since)
    for out in outcomes:
        sid = out.strategy_id
        if out.state in AT_REST:
            unhedged.pop(sid, None)
            reconciling.pop(sid, None)
            continue
        if out.state != HALTED or not any(out.positions):
            continue
        since = unhedged.setdefault(sid, now_ns)
        overdue = now_ns - since >= int(settings.max_unhedged_s * _S)
        findings.append(
            ReconFinding(
                kind=Kind.UNHEDGED.value,
                strategy_id=sid,
                detail=f"{out.detail}; unhedged {(now_ns - since) / _S:.1f}s"
                + (f", policy {settings.policy.unhedged}" if overdue else ""),
            )
        )
        if not overdue:
            continue
        if settings.policy.unhedged == Policy.HALT_STRATEGY:
            actions.append(HaltInstance(strategy_id=sid, reason="unhedged after reconciliation"))
        elif settings.policy.unhedged == Policy.CORRECTIVE:
            legs = list(zip(out.products, out.positions, strict=True))
            seq = next_seq(ledger, sid, actions)
            for leg, (product, qty) in enumerate(legs, start=1):
                if qty != ZERO and not in_flight(ledger, sid, product, now_ns, settings):
                    intent = corrective_intent(
                        settings, sid, product, -qty, seq, leg, now_ns, f"unwind unhedged leg: {out.detail}"
                    )
                    actions.append(SendIntent(intent=intent))
    return Outcome(
        compared={"resolved_instances": len(outcomes)},
        findings=tuple(findings),
        actions=tuple(actions),
        memory=Memory(reconciling_since=reconciling, unhedged_since=unhedged, baseline=memory.baseline),
    )


def policy_actions(
    policy: str,
    product_id: str,
    ledger: LedgerView,
    settings: ReconSettings,
    now_ns: int,
    *,
    correct_by: Decimal | None = None,
    increment: Decimal | None = None,
    pending: Sequence[Action] = (),
) -> list[Action]:
    """`halt_strategy` halts every instance holding the product; `corrective` (when a quantity to
    trade is given) sends it under the external id, on the product's size grid."""
    if policy == Policy.HALT_STRATEGY:
        holders = sorted(
            {
                sid
                for (sid, product), qty in ledger.positions.items()
                if product == product_id and qty != ZERO and sid != settings.external_strategy_id
            }
        )
        return [HaltInstance(strategy_id=sid, reason=f"reconciliation: {product_id}") for sid in holders]
    if policy != Policy.CORRECTIVE or correct_by is None:
        return []
    sid = settings.external_strategy_id
    size = abs(correct_by)
    if increment is not None and increment > ZERO:
        size = (size / increment).to_integral_value(rounding=ROUND_DOWN) * increment
    if size == ZERO or in_flight(ledger, sid, product_id, now_ns, settings):
        return []
    seq = next_seq(ledger, sid, pending)
    signed = size if correct_by > ZERO else -size
    return [
        SendIntent(
            intent=corrective_intent(settings, sid, product_id, signed, seq, 0, now_ns, "position difference")
        )
    ]


def corrective_intent(
    settings: ReconSettings,
    strategy_id: str,
    product_id: str,
    signed_size: Decimal,
    seq: int,
    leg: int,
    now_ns: int,
    reason: str,
) -> OrderIntent:
    """A market IOC intent that trades `signed_size` (buy when positive), marked corrective, to be
    placed within `corrective_ttl_s`."""
    venue = settings.execution_venue
    return OrderIntent(
        client_order_id=make_coid(f"recon-{venue}-{strategy_id}", seq, leg),
        strategy_id=strategy_id,
        intent_seq=seq,
        leg=leg,
        venue=venue,
        product_id=product_id,
        side=Side.BUY if signed_size > ZERO else Side.SELL,
        order_type=OrderType.MARKET,
        size=abs(signed_size),
        time_in_force=TimeInForce.IOC,
        purpose=Purpose.CORRECTIVE,
        created_ns=now_ns,
        expires_ns=now_ns + int(settings.corrective_ttl_s * _S),
        reason=f"reconciliation: {reason}",
    )


def next_seq(ledger: LedgerView, strategy_id: str, pending: Sequence[Action]) -> int:
    """One more than the highest corrective sequence of this strategy on the stream or pending."""
    seen = [
        o.intent_seq
        for o in ledger.orders.values()
        if o.strategy_id == strategy_id and o.purpose is Purpose.CORRECTIVE
    ]
    seen += [
        a.intent.intent_seq
        for a in pending
        if isinstance(a, SendIntent) and a.intent.strategy_id == strategy_id
    ]
    return max(seen, default=0) + 1


def in_flight(
    ledger: LedgerView, strategy_id: str, product_id: str, now_ns: int, settings: ReconSettings
) -> bool:
    """A corrective of this strategy on this product that may still trade (or whose fills are
    still on their way: acting on the position before they are booked would trade it twice)."""
    horizon = now_ns - int(settings.corrective_timeout_s * _S)
    return any(
        o.strategy_id == strategy_id
        and o.product_id == product_id
        and o.purpose is Purpose.CORRECTIVE
        and o.created_ns >= horizon
        and not o.settled
        for o in ledger.orders.values()
    )
