"""Pre-trade checks: `check_intent(intent, context) -> RiskVerdict`. Pure: no I/O, no clock.

Every check runs and every failure is reported with its stable `Reason` code, so a refusal explains
itself fully. Three checks come first and stop the rest because nothing else can be judged without
them: a duplicate intent, a malformed number, an unknown product.

**Risk judges purpose from its own ledger, never from the intent's label.** An order is reducing when
risk's filled position shows it shrinks the strategy's position without flipping it, counting the
strategy's pending orders on the same side (two exits cannot together flip a position). A `HEDGE`
is also let through when it completes a leg whose partner is actually filled: the strategy holds an
opposite filled position in another product of the venue, and this product's position after the
order stays within the strategy's latest approved entry there. Only reducing orders pass the kill
switch, the daily loss limit, a strategy without an (enabled) spec, and a venue other than the one
the spec's mode routes to. Nothing passes the circuit breaker: while it is open nothing goes out,
and half-open lets exactly one order through, whatever its purpose.

**Orders carry a deadline.** The placement deadline is the earlier of the intent's own `expires_ns`
and `created_ns + max_intent_age_ms`; past it the intent is `STALE_INTENT`, and so is one dated more
than `clock_skew_ms` in the future (its age could not be judged). The approved order carries the
deadline, and execution refuses it once that has passed.

Position and exposure caps only refuse an order that makes things worse: the projected value is over
the cap *and* larger than before. A book already over a cap (lowered at run time) can still be
reduced.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from shared.ledger import PositionKey
from shared.messages import ProductInfo, ProductKey
from shared.messages.orders import OrderIntent, OrderType, Purpose
from shared.money import BPS, is_on_grid
from shared.risk.context import RiskContext, RiskVerdict
from shared.risk.exposure import Exposure
from shared.risk.reasons import Reason

_NS_PER_MS = 1_000_000
_ABSURD = Decimal("1e18")
"""No real size or price reaches this; larger numbers are treated as malformed."""


class _Found:
    """Collects (reason, detail) pairs in check order."""

    def __init__(self) -> None:
        self.items: list[tuple[Reason, str]] = []

    def add(self, reason: Reason, detail: str) -> None:
        self.items.append((reason, detail))


def check_intent(intent: OrderIntent, ctx: RiskContext) -> RiskVerdict:
    """Run every pre-trade check on `intent`; the verdict says whether it may be sent, and why not."""
    found = _Found()
    product = (intent.venue, intent.product_id)
    info = ctx.products.get(product)
    if intent.client_order_id in ctx.seen_intents:
        found.add(Reason.DUPLICATE_INTENT, f"{intent.client_order_id} was already decided")
    _check_numbers(intent, found)
    if info is None:
        found.add(Reason.UNKNOWN_PRODUCT, f"no product metadata for {intent.venue}:{intent.product_id}")
    if found.items or info is None:
        return _verdict(ctx, found, reducing=False)

    exposure = Exposure(ctx.positions, ctx.pending, ctx.marks, ctx.products)
    mid = _check_market_data(intent, ctx, found)
    _check_grid(intent, info, mid, found)
    delta = intent.side.sign * intent.size
    reducing = _reduces(intent, ctx, delta) or _hedges(intent, ctx, exposure, delta)
    if ctx.subject_strategy is not None and ctx.subject_strategy != intent.strategy_id:
        found.add(
            Reason.STRATEGY_MISMATCH,
            f"intent for {intent.strategy_id!r} arrived on the subject of {ctx.subject_strategy!r}",
        )
    deadline = _check_deadline(intent, ctx, found)
    _check_route(intent, ctx, reducing, found)
    if ctx.kill_switch and not reducing:
        found.add(Reason.KILL_SWITCH, "trading is halted; only risk-reducing orders pass")
    lost = not ctx.daily_pnl.is_finite() or ctx.daily_pnl <= -ctx.limits.daily_loss_limit
    if lost and not reducing:  # an unknowable daily PnL fails closed
        found.add(Reason.DAILY_LOSS, f"daily PnL {ctx.daily_pnl} <= -{ctx.limits.daily_loss_limit}")
    price = _valuation_price(intent, mid)
    if price is not None:
        _check_caps(intent, ctx, exposure, product, delta, price, found)

    breaker_ok, breaker = ctx.breaker.admit(ctx.now_ns, ctx.limits.breaker, intent.client_order_id)
    if not breaker_ok:
        found.add(Reason.BREAKER_OPEN, f"circuit breaker {breaker.state.value}; no order may go out")
    buckets = ctx.buckets.take(
        venue=intent.venue,
        strategy_id=intent.strategy_id,
        venue_limit=ctx.limits.venue_rate,
        strategy_limit=ctx.limits.strategy_rate,
        now_ns=ctx.now_ns,
    )
    if buckets is None:
        found.add(Reason.RATE_LIMIT, f"order rate limit reached for {intent.venue}/{intent.strategy_id}")
    if found.items or buckets is None:
        return _verdict(ctx, found, reducing=reducing)
    probe = breaker.probe_id == intent.client_order_id and ctx.breaker.probe_id != breaker.probe_id
    return RiskVerdict(
        approved=True,
        reasons=(),
        detail="",
        reducing=reducing,
        probe=probe,
        breaker=breaker,
        buckets=buckets,
        expires_ns=deadline,
    )


def _verdict(ctx: RiskContext, found: _Found, *, reducing: bool) -> RiskVerdict:
    return RiskVerdict(
        approved=False,
        reasons=tuple(dict.fromkeys(reason.value for reason, _ in found.items)),  # each code once
        detail="; ".join(f"{reason.value}: {detail}" for reason, detail in found.items),
        reducing=reducing,
        probe=False,
        breaker=ctx.breaker,
        buckets=ctx.buckets,
    )


def _finite_positive(value: object) -> bool:
    """Finite, > 0 and below `_ABSURD`: a size of 1e999999 would overflow the arithmetic below."""
    return isinstance(value, Decimal) and value.is_finite() and 0 < value < _ABSURD


def _check_numbers(intent: OrderIntent, found: _Found) -> None:
    if not _finite_positive(intent.size):
        found.add(
            Reason.INVALID_NUMBER, f"size must be a positive finite decimal below 1e18, got {intent.size}"
        )
    if intent.limit_price is not None and not _finite_positive(intent.limit_price):
        found.add(Reason.INVALID_NUMBER, f"limit_price must be positive and finite, got {intent.limit_price}")
    if intent.order_type is OrderType.LIMIT and intent.limit_price is None:
        found.add(Reason.INVALID_NUMBER, "a limit order needs a limit_price")
    if intent.reference_price is not None and not _finite_positive(intent.reference_price):
        found.add(
            Reason.INVALID_NUMBER,
            f"reference_price must be positive and finite, got {intent.reference_price}",
        )


def _check_market_data(intent: OrderIntent, ctx: RiskContext, found: _Found) -> Decimal | None:
    """Staleness and the price band. Returns the mid when it is fresh enough to judge by."""
    mark = ctx.marks.get((intent.venue, intent.product_id))
    if mark is None or not _finite_positive(mark.price):
        found.add(Reason.STALE_MARKET_DATA, f"no usable mark for {intent.venue}:{intent.product_id}")
        return None
    age_ms = (ctx.now_ns - mark.ts_ns) / _NS_PER_MS
    if age_ms > ctx.limits.max_staleness_ms:
        found.add(Reason.STALE_MARKET_DATA, f"mark is {age_ms:.0f} ms old > {ctx.limits.max_staleness_ms} ms")
        return None
    if intent.limit_price is not None:
        distance = abs(intent.limit_price - mark.price) / mark.price * BPS
        if distance > ctx.limits.price_band_bps:
            found.add(
                Reason.PRICE_BAND,
                f"limit {intent.limit_price} is {distance:.2f} bps from mid {mark.price} "
                f"> {ctx.limits.price_band_bps} bps",
            )
    return mark.price


def _valuation_price(intent: OrderIntent, mid: Decimal | None) -> Decimal | None:
    """The price the caps value the order at: the mid, or its limit price when that is higher.

    A limit order may rest and fill later at its limit: a sell resting above the market is worth
    its limit when it fills, a buy resting below it less than the mid, so the higher of the two
    bounds both. Without a fresh mid (refused as stale anyway) the limit or reference price."""
    if mid is None:
        return intent.limit_price or intent.reference_price
    return max(mid, intent.limit_price) if intent.limit_price is not None else mid


def _on_grid(value: Decimal, increment: Decimal) -> bool:
    """`is_on_grid`, but a value too large for the decimal context counts as off the grid."""
    try:
        return is_on_grid(value, increment)
    except InvalidOperation:
        return False


def _check_grid(intent: OrderIntent, info: ProductInfo, mid: Decimal | None, found: _Found) -> None:
    if not _on_grid(intent.size, info.base_increment):
        found.add(Reason.OFF_GRID_SIZE, f"size {intent.size} is not a multiple of {info.base_increment}")
    if intent.limit_price is not None and not _on_grid(intent.limit_price, info.price_increment):
        found.add(
            Reason.OFF_GRID_PRICE,
            f"limit {intent.limit_price} is not a multiple of {info.price_increment}",
        )
    if intent.size < info.base_min_size:
        found.add(Reason.BELOW_MIN_SIZE, f"size {intent.size} < minimum {info.base_min_size}")
    price = intent.limit_price if intent.limit_price is not None else mid
    if price is not None and info.min_notional > 0:
        value = info.notional(intent.size, price)
        if value < info.min_notional:
            found.add(Reason.BELOW_MIN_SIZE, f"order value {value} < minimum {info.min_notional}")


def _shrinks(held: Decimal, delta: Decimal) -> bool:
    """True when the order reduces |position| without flipping through zero."""
    return held != 0 and (held > 0) != (delta > 0) and abs(delta) <= abs(held)


def _filled(ctx: RiskContext, key: PositionKey) -> Decimal:
    """The strategy's filled quantity in one position, as risk's ledger has it."""
    return sum(
        (p.quantity for p in ctx.positions if PositionKey(p.strategy_id, p.venue, p.product_id) == key),
        Decimal(0),
    )


def _same_side_pending(ctx: RiskContext, key: PositionKey, delta: Decimal) -> Decimal:
    """Pending orders of this position on the order's side (signed like `delta`)."""
    side = ctx.pending_buys if delta > 0 else ctx.pending_sells
    return side.get(key, Decimal(0))


def _reduces(intent: OrderIntent, ctx: RiskContext, delta: Decimal) -> bool:
    """The filled position shrinks without flipping, even if every pending order on this side fills."""
    key = PositionKey(intent.strategy_id, intent.venue, intent.product_id)
    return _shrinks(_filled(ctx, key), delta + _same_side_pending(ctx, key, delta))


def _hedges(intent: OrderIntent, ctx: RiskContext, exposure: Exposure, delta: Decimal) -> bool:
    """A `HEDGE` that completes a leg whose partner is filled, and no more than its entry asked.

    The partner: a filled position of the same strategy in another product of the venue, of the
    opposite sign (both dual-leg kinds hold their legs in opposite directions). The bound: after
    this order (and the pending ones on its side) the position in this product stays on the side of,
    and within, the strategy's latest approved entry order here.
    """
    if intent.purpose is not Purpose.HEDGE:
        return False
    key = PositionKey(intent.strategy_id, intent.venue, intent.product_id)
    entry = ctx.entries.get(key)
    if entry is None or entry == 0 or (entry > 0) != (delta > 0):
        return False
    partner = any(
        p.strategy_id == intent.strategy_id
        and p.venue == intent.venue
        and p.product_id != intent.product_id
        and p.quantity != 0
        and (p.quantity > 0) != (delta > 0)
        for p in ctx.positions
    )
    after = _filled(ctx, key) + _same_side_pending(ctx, key, delta) + delta
    return partner and (after > 0) == (entry > 0) and abs(after) <= abs(entry)


def _check_deadline(intent: OrderIntent, ctx: RiskContext, found: _Found) -> int:
    """The placement deadline; a passed one, or an intent dated beyond the allowed skew, is stale."""
    ceiling = intent.created_ns + ctx.limits.max_intent_age_ms * _NS_PER_MS
    deadline = min(intent.expires_ns, ceiling) if intent.expires_ns > 0 else ceiling
    ahead_ms = (intent.created_ns - ctx.now_ns) / _NS_PER_MS
    if ahead_ms > ctx.limits.clock_skew_ms:
        found.add(
            Reason.STALE_INTENT,
            f"intent is dated {ahead_ms:.0f} ms in the future > allowed clock skew "
            f"{ctx.limits.clock_skew_ms} ms",
        )
    elif ctx.now_ns > deadline:
        late_ms = (ctx.now_ns - deadline) / _NS_PER_MS
        found.add(Reason.STALE_INTENT, f"placement deadline passed {late_ms:.0f} ms ago")
    return deadline


def _check_route(intent: OrderIntent, ctx: RiskContext, reducing: bool, found: _Found) -> None:
    """The spec's mode decides the venue; without an enabled spec only reductions pass."""
    if ctx.routes is None or reducing:
        return
    route = ctx.routes.get(intent.strategy_id)
    if route is None:
        found.add(
            Reason.UNKNOWN_STRATEGY,
            f"{intent.strategy_id!r} has no enabled spec; only orders that reduce its position pass",
        )
    elif route != intent.venue:
        found.add(
            Reason.WRONG_VENUE,
            f"{intent.strategy_id!r} routes its orders to {route!r}, not {intent.venue!r}",
        )


def _worse(before: Decimal, after: Decimal, cap: Decimal) -> bool:
    return after > cap and after > before


def _check_caps(
    intent: OrderIntent,
    ctx: RiskContext,
    exposure: Exposure,
    product: ProductKey,
    delta: Decimal,
    price: Decimal,
    found: _Found,
) -> None:
    limits = ctx.limits
    info = ctx.products[product]
    net = exposure.net_quantity(product)
    base_cap = limits.max_position_base.get(intent.product_id)
    before_base, after_base = abs(net) * info.contract_size, abs(net + delta) * info.contract_size
    if base_cap is not None and _worse(before_base, after_base, base_cap):
        found.add(Reason.MAX_POSITION, f"net position {after_base} > cap {base_cap} (base units)")
    cap = limits.position_notional_cap(intent.product_id)
    before, after = exposure.value(product, net, price), exposure.value(product, net + delta, price)
    if _worse(before, after, cap):
        found.add(Reason.MAX_POSITION_NOTIONAL, f"position notional {after} > cap {cap}")
    unchanged, changed = (product, Decimal(0), price), (product, delta, price)
    before = exposure.strategy_notional(intent.strategy_id, unchanged)
    after = exposure.strategy_notional(intent.strategy_id, changed)
    if _worse(before, after, limits.max_strategy_notional):
        found.add(
            Reason.MAX_STRATEGY_NOTIONAL, f"strategy notional {after} > cap {limits.max_strategy_notional}"
        )
    before, after = exposure.gross(unchanged), exposure.gross(changed)
    if _worse(before, after, limits.max_gross_exposure):
        found.add(Reason.GROSS_EXPOSURE, f"gross exposure {after} > cap {limits.max_gross_exposure}")
