"""Pure position comparison: ledger quantities (after this cycle's repairs) against the venue's,
per futures product and per spot base currency, net of holdings the system never traded.

Why a baseline: a spot wallet is a balance, not a position; what was in it before the first trade
(or arrives by transfer) is no strategy's. It is configured, or captured once (venue minus ledger)
and kept in KV `exec_state`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal

from services.reconciliation.config import ReconSettings
from services.reconciliation.instances import policy_actions
from services.reconciliation.model import (
    Action,
    Kind,
    LedgerView,
    Memory,
    PositionKey,
    ProductRef,
    SendIntent,
    VenueSnapshot,
)
from shared.messages import ReconFinding
from shared.money import ZERO


def _currency(ref: ProductRef | None, product_id: str) -> str:
    return ref.base_currency if ref is not None else product_id.split("-")[0]


def _quote(product_id: str) -> str:
    parts = product_id.split("-")
    return parts[1] if len(parts) > 1 else "USD"


def _is_future(venue: VenueSnapshot, product_id: str) -> bool:
    ref = venue.products.get(product_id)
    return product_id in venue.futures or (ref is not None and ref.is_future)


def _ledger_totals(
    venue: VenueSnapshot,
    positions: Mapping[PositionKey, Decimal],
    baseline: Mapping[str, Decimal] | None = None,
) -> tuple[dict[str, Decimal], dict[str, Decimal], dict[str, str]]:
    """Ledger quantity per futures product and per spot base currency (all strategies together),
    and one spot product per currency (where a corrective order would trade).

    Spot currencies compared: the bases of every product held or just traded, and every baselined
    currency that is some product's base but not the quote of one in use (quote wallets move with
    every trade and are no position)."""
    futures: dict[str, Decimal] = defaultdict(lambda: ZERO)
    spot: dict[str, Decimal] = defaultdict(lambda: ZERO)
    product_of: dict[str, str] = {}
    quotes: set[str] = set()
    in_use = {p for _, p in positions} | {f.product_id for f in venue.fills}
    for product in sorted(in_use):
        if _is_future(venue, product):
            futures.setdefault(product, ZERO)
            continue
        ref = venue.products.get(product)
        currency = _currency(ref, product)
        spot.setdefault(currency, ZERO)
        product_of.setdefault(currency, product)
        quotes.add(ref.quote_currency if ref is not None else _quote(product))
    for (_, product), qty in sorted(positions.items()):
        if _is_future(venue, product):
            futures[product] += qty
        else:
            spot[_currency(venue.products.get(product), product)] += qty
    bases = {r.base_currency: r.product_id for r in venue.products.values() if not r.is_future}
    for currency in sorted(baseline or {}):
        if currency in bases and currency not in quotes and currency not in spot:
            spot[currency] = ZERO
            product_of[currency] = bases[currency]
    for product in venue.futures:
        futures.setdefault(product, ZERO)
    return futures, spot, product_of


def baseline_of(
    venue: VenueSnapshot, positions: Mapping[PositionKey, Decimal], memory: Memory, settings: ReconSettings
) -> dict[str, Decimal] | None:
    """Holdings the system did not trade, per spot currency and futures product: configured,
    remembered, or captured now (venue minus ledger, after this cycle's repairs). None means
    "captured this cycle": there is nothing to compare against yet."""
    if memory.baseline is not None:
        return dict(memory.baseline)
    if settings.spot_baseline:
        return {c: Decimal(v) for c, v in settings.spot_baseline.items()}
    return None


def capture_baseline(venue: VenueSnapshot, positions: Mapping[PositionKey, Decimal]) -> dict[str, Decimal]:
    """Venue minus ledger for every wallet and futures product: what was there before us."""
    futures, spot, _ = _ledger_totals(venue, positions)
    out = {c: venue.balances.get(c, ZERO) - spot.get(c, ZERO) for c in set(venue.balances) | set(spot)}
    out.update({p: venue.futures.get(p, ZERO) - q for p, q in futures.items()})
    return dict(sorted(out.items()))


def compare_positions(
    venue: VenueSnapshot,
    positions: Mapping[PositionKey, Decimal],
    baseline: dict[str, Decimal],
    ledger: LedgerView,
    now_ns: int,
    settings: ReconSettings,
    findings: list[ReconFinding],
    actions: list[Action],
) -> dict[str, Decimal]:
    """Quantities per futures product and per spot currency; a difference above dust is reported
    and handled by the `position_difference` policy. A corrective order trades the difference away
    and moves it into the baseline (booking every trade can never close a difference that no fill
    explains: the trade itself is booked too). Returns the baseline after that."""
    futures, spot, product_of = _ledger_totals(venue, positions, baseline)
    rows = [(p, p, q, venue.futures.get(p, ZERO)) for p, q in sorted(futures.items())]
    rows += [(c, product_of[c], q, venue.balances.get(c, ZERO)) for c, q in sorted(spot.items())]
    out = dict(baseline)
    for name, product, held, raw in rows:
        actual = raw - baseline.get(name, ZERO)
        diff = actual - held
        if abs(diff) <= max(settings.dust_of(name), settings.dust_of(product)):
            continue
        findings.append(
            ReconFinding(
                kind=Kind.POSITION_DIFFERENCE.value,
                product_id=product,
                ledger_quantity=held,
                venue_quantity=actual,
                detail=f"{name}: venue {actual} vs ledger {held} (difference {diff})",
            )
        )
        ref = venue.products.get(product)
        planned = policy_actions(
            settings.policy.position_difference,
            product,
            ledger,
            settings,
            now_ns,
            correct_by=-diff,
            increment=ref.base_increment if ref is not None else None,
            pending=actions,
        )
        traded = sum((a.intent.side.sign * a.intent.size for a in planned if isinstance(a, SendIntent)), ZERO)
        out[name] = out.get(name, ZERO) - traded
        actions.extend(planned)
    return out
