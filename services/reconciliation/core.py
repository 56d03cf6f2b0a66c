"""The pure reconciliation core: no NATS, no
asyncio, no clock. The service reads both sides, calls these functions and carries out the actions.

A cycle is three pure steps around two reads:
1. `orders_to_look_up`: which of our orders the venue must be asked about (left `unknown`, or open
   on the bus but no longer open at the venue);
2. `reconcile`: fills the bus never carried (ours → published under the owner; outside trades →
   adopted under the external id), order states to publish, open orders nobody knows, position
   differences above dust (after those repairs) with their policy, and instances to resolve;
3. `escalate` (in `instances.py`): what the strategies answered to `resolve`, and the unhedged bound.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from services.reconciliation.config import ReconSettings
from services.reconciliation.instances import plan_instances, policy_actions
from services.reconciliation.model import (
    Action,
    InstanceView,
    Kind,
    LedgerOrder,
    LedgerView,
    Memory,
    OrderRef,
    Outcome,
    PositionKey,
    PublishEvent,
    PublishFill,
    VenueFill,
    VenueOrder,
    VenueSnapshot,
)
from services.reconciliation.positions import baseline_of, capture_baseline, compare_positions
from shared.messages import Fill, OrderEvent, OrderStatus, ReconFinding
from shared.money import ZERO

NOT_FOUND = "NOT_FOUND_AT_VENUE"
_OPEN = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
_S = 1_000_000_000


def orders_to_look_up(
    ledger: LedgerView, venue: VenueSnapshot, now_ns: int, settings: ReconSettings
) -> tuple[OrderRef, ...]:
    """Our orders whose true state only the venue knows: `unknown` ones, and ones open on the bus
    (for longer than the grace) that the venue no longer lists as open."""
    open_at_venue = {o.client_order_id for o in venue.open_orders}
    grace = int(settings.fill_grace_s * _S)
    refs = []
    for order in ledger.orders.values():
        stale_open = (
            order.status in _OPEN
            and order.client_order_id not in open_at_venue
            and now_ns - order.updated_ns > grace
        )
        if order.status is OrderStatus.UNKNOWN or stale_open:
            refs.append(
                OrderRef(
                    client_order_id=order.client_order_id,
                    product_id=order.product_id,
                    venue_order_id=order.venue_order_id,
                    created_ns=order.created_ns,
                )
            )
    return tuple(sorted(refs, key=lambda r: r.client_order_id))


def reconcile(
    ledger: LedgerView,
    venue: VenueSnapshot,
    found: Mapping[str, VenueOrder | None],
    instances: Sequence[InstanceView],
    memory: Memory,
    now_ns: int,
    settings: ReconSettings,
) -> Outcome:
    """Compare both sides and decide every repair and policy action of this cycle."""
    findings: list[ReconFinding] = []
    actions: list[Action] = []
    fills, deltas = _missing_fills(ledger, venue, found, now_ns, settings, findings)
    actions += [PublishFill(fill=f) for f in fills]
    _external_policy(ledger, venue, deltas, now_ns, settings, actions)
    resolved = _order_states(ledger, venue, found, now_ns, settings, findings, actions)
    positions: dict[PositionKey, Decimal] = defaultdict(lambda: ZERO, ledger.positions)
    for key, delta in deltas.items():
        positions[key] += delta
    baseline = baseline_of(venue, positions, memory, settings)
    if baseline is None:
        # An empty account (a paper account not created yet) is no baseline: capture it later.
        baseline = capture_baseline(venue, positions) if venue.balances else None
    else:
        baseline = compare_positions(venue, positions, baseline, ledger, now_ns, settings, findings, actions)
    busy = _busy_strategies(ledger, venue, found, resolved)
    memory_out, instance_actions = plan_instances(
        instances, positions, busy, memory, now_ns, settings, findings
    )
    actions += instance_actions
    compared = {
        "venue_fills": len(venue.fills),
        "ledger_fills": len(ledger.trade_ids),
        "ledger_orders": len(ledger.orders),
        "venue_open_orders": len(venue.open_orders),
        "orders_looked_up": len(found),
        "balances": len(venue.balances),
        "futures_positions": len(venue.futures),
        "instances": len(instances),
    }
    return Outcome(
        compared=compared,
        findings=tuple(findings),
        actions=tuple(actions),
        memory=Memory(
            reconciling_since=memory_out.reconciling_since,
            unhedged_since=memory_out.unhedged_since,
            baseline=baseline,
        ),
    )


# ---- fills ----
def _missing_fills(
    ledger: LedgerView,
    venue: VenueSnapshot,
    found: Mapping[str, VenueOrder | None],
    now_ns: int,
    settings: ReconSettings,
    findings: list[ReconFinding],
) -> tuple[list[Fill], dict[PositionKey, Decimal]]:
    """Venue fills the bus never carried. Fills of looked-up orders skip the grace: those orders
    are already overdue. Ours keep their owner; the rest are outside trades."""
    cutoff = now_ns - int(settings.fill_grace_s * _S)
    overdue = {f.trade_id for o in found.values() if o is not None for f in o.fills}
    candidates: dict[str, VenueFill] = {f.trade_id: f for f in venue.fills}
    for order in found.values():
        if order is not None:
            candidates.update({f.trade_id: f for f in order.fills})
    out: list[Fill] = []
    deltas: dict[PositionKey, Decimal] = defaultdict(lambda: ZERO)
    for vf in sorted(candidates.values(), key=lambda f: (f.time_ns, f.trade_id)):
        if vf.trade_id in ledger.trade_ids or (vf.time_ns > cutoff and vf.trade_id not in overdue):
            continue
        owner = ledger.orders.get(vf.client_order_id) if vf.client_order_id else None
        signed = vf.side.sign * vf.size
        if owner is not None:
            findings.append(_fill_finding(Kind.MISSING_FILL, vf, owner.strategy_id))
            out.append(_to_fill(vf, ledger.venue, owner.strategy_id, vf.client_order_id))
            deltas[(owner.strategy_id, vf.product_id)] += signed
            continue
        sid = settings.external_strategy_id
        findings.append(_fill_finding(Kind.EXTERNAL_TRADE, vf, sid))
        if settings.adopt_external_fills:
            coid = vf.client_order_id or f"external-{vf.order_id}"
            out.append(_to_fill(vf, ledger.venue, sid, coid))
            deltas[(sid, vf.product_id)] += signed
    return out, deltas


def _external_policy(
    ledger: LedgerView,
    venue: VenueSnapshot,
    deltas: Mapping[PositionKey, Decimal],
    now_ns: int,
    settings: ReconSettings,
    actions: list[Action],
) -> None:
    """Adopted outside trades, per product: halt the instances holding it, or trade it back out
    (under the external id, whose book the adoption just moved)."""
    for (sid, product), delta in sorted(deltas.items()):
        if sid != settings.external_strategy_id or delta == ZERO:
            continue
        ref = venue.products.get(product)
        actions.extend(
            policy_actions(
                settings.policy.external_trade,
                product,
                ledger,
                settings,
                now_ns,
                correct_by=-delta,
                increment=ref.base_increment if ref is not None else None,
                pending=actions,
            )
        )


def _fill_finding(kind: Kind, vf: VenueFill, strategy_id: str) -> ReconFinding:
    return ReconFinding(
        kind=kind.value,
        product_id=vf.product_id,
        strategy_id=strategy_id,
        venue_quantity=vf.side.sign * vf.size,
        detail=f"trade {vf.trade_id} of order {vf.order_id} ({vf.client_order_id or 'no client id'})",
    )


def _to_fill(vf: VenueFill, venue: str, strategy_id: str, client_order_id: str) -> Fill:
    return Fill(
        trade_id=vf.trade_id,
        client_order_id=client_order_id,
        venue_order_id=vf.order_id,
        strategy_id=strategy_id,
        venue=venue,
        product_id=vf.product_id,
        side=vf.side,
        price=vf.price,
        size=vf.size,
        fee=vf.commission,
        liquidity=vf.liquidity,
        fill_ns=vf.time_ns,
    )


# ---- orders ----
def _order_states(
    ledger: LedgerView,
    venue: VenueSnapshot,
    found: Mapping[str, VenueOrder | None],
    now_ns: int,
    settings: ReconSettings,
    findings: list[ReconFinding],
    actions: list[Action],
) -> set[str]:
    """Publish the venue's state of looked-up orders and of open orders whose events were lost;
    report open orders nobody knows. Returns the client order ids settled this cycle."""
    settled: set[str] = set()
    for coid, vo in sorted(found.items()):
        lo = ledger.orders.get(coid)
        if lo is None:
            continue
        was_unknown = lo.status is OrderStatus.UNKNOWN
        kind = Kind.UNKNOWN_ORDER_RESOLVED if was_unknown else Kind.ORDER_EVENT_MISSING
        if vo is None:
            if was_unknown and now_ns - lo.updated_ns > int(settings.unknown_grace_s * _S):
                findings.append(_order_finding(kind, lo, "not at the venue: never placed"))
                actions.append(PublishEvent(event=_event(ledger.venue, lo, OrderStatus.REJECTED, now_ns)))
                settled.add(coid)
            elif not was_unknown:
                findings.append(_order_finding(kind, lo, "open on the bus, not found at the venue"))
            continue
        if vo.status is OrderStatus.UNKNOWN or (vo.status is lo.status and vo.filled_size == lo.filled_size):
            continue
        findings.append(_order_finding(kind, lo, f"venue says {vo.status.value}, filled {vo.filled_size}"))
        actions.append(PublishEvent(event=_event(ledger.venue, lo, vo.status, now_ns, vo)))
        if vo.status.is_terminal:
            settled.add(coid)
    grace = int(settings.fill_grace_s * _S)
    for vo in venue.open_orders:
        lo = ledger.orders.get(vo.client_order_id)
        if lo is None:
            findings.append(
                ReconFinding(
                    kind=Kind.UNKNOWN_OPEN_ORDER.value,
                    product_id=vo.product_id,
                    venue_quantity=vo.side.sign * vo.filled_size,
                    detail=f"order {vo.order_id} ({vo.client_order_id or 'no client id'}) {vo.status.value}",
                )
            )
            actions.extend(
                policy_actions(settings.policy.unknown_open_order, vo.product_id, ledger, settings, now_ns)
            )
            continue
        if vo.client_order_id in found or now_ns - max(lo.updated_ns, vo.created_ns) <= grace:
            continue
        status = OrderStatus.PARTIALLY_FILLED if vo.filled_size > ZERO else OrderStatus.ACCEPTED
        if lo.status is None or lo.status is OrderStatus.UNKNOWN or lo.filled_size < vo.filled_size:
            findings.append(
                _order_finding(Kind.ORDER_EVENT_MISSING, lo, f"open at the venue ({status.value})")
            )
            actions.append(PublishEvent(event=_event(ledger.venue, lo, status, now_ns, vo)))
    return settled


def _order_finding(kind: Kind, lo: LedgerOrder, detail: str) -> ReconFinding:
    return ReconFinding(
        kind=kind.value,
        product_id=lo.product_id,
        strategy_id=lo.strategy_id,
        ledger_quantity=lo.filled_size,
        detail=f"{lo.client_order_id}: {detail}",
    )


def _event(
    venue: str, lo: LedgerOrder, status: OrderStatus, now_ns: int, vo: VenueOrder | None = None
) -> OrderEvent:
    """The event execution would have published; an acceptance carries no fills (same msg id)."""
    accepted = status is OrderStatus.ACCEPTED
    return OrderEvent(
        client_order_id=lo.client_order_id,
        venue_order_id=vo.order_id if vo is not None else lo.venue_order_id,
        strategy_id=lo.strategy_id,
        venue=venue,
        product_id=lo.product_id,
        side=lo.side,
        status=status,
        size=lo.size,
        filled_size=ZERO if vo is None or accepted else vo.filled_size,
        average_price=None if vo is None or accepted else vo.average_price,
        reason=NOT_FOUND if vo is None else vo.reason,
        event_ns=now_ns,
    )


def _busy_strategies(
    ledger: LedgerView, venue: VenueSnapshot, found: Mapping[str, VenueOrder | None], settled: set[str]
) -> set[str]:
    """Strategies with an order still working at the venue, or still unknown after this cycle."""
    busy = {
        ledger.orders[o.client_order_id].strategy_id
        for o in venue.open_orders
        if o.client_order_id in ledger.orders
    }
    for order in ledger.orders.values():
        if order.status is OrderStatus.UNKNOWN and order.client_order_id not in settled:
            vo = found.get(order.client_order_id)
            if vo is None or not vo.status.is_terminal:
                busy.add(order.strategy_id)
    return busy
