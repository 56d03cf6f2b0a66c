"""Builders for risk tests: a sane default for everything, overridden per test by keyword."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.ledger import Mark
from shared.messages import ProductInfo, index_products
from shared.messages.base import Side
from shared.messages.orders import OrderIntent, OrderType, Purpose
from shared.messages.risk import Position
from shared.risk import BreakerConfig, RateLimit, RiskContext, RiskLimits

D = Decimal
SEC = 1_000_000_000
NOW = 1_764_000_000 * SEC  # 2025-11-24T16:00:00Z
VENUE = "coinbase"
SPOT = "BTC-USD"
FUT = "BIT-28NOV25-CDE"

PRODUCTS = index_products(
    [
        ProductInfo(
            venue=VENUE,
            product_id=SPOT,
            base_increment=D("0.00000001"),
            price_increment=D("0.01"),
            base_min_size=D("0.00001"),
            min_notional=D("1"),
        ),
        ProductInfo(
            venue=VENUE,
            product_id=FUT,
            base_increment=D("1"),
            price_increment=D("5"),
            base_min_size=D("1"),
            contract_size=D("0.01"),
        ),
    ]
)


def limits(**overrides: Any) -> RiskLimits:
    """Generous limits: a default intent passes every check."""
    fields: dict[str, Any] = {
        "max_position_base": {SPOT: D("2"), FUT: D("2")},
        "max_position_notional": D("150000"),
        "max_strategy_notional": D("200000"),
        "max_gross_exposure": D("300000"),
        "daily_loss_limit": D("1000"),
        "venue_rate": RateLimit(per_second=D("10"), burst=20),
        "strategy_rate": RateLimit(per_second=D("5"), burst=10),
        "price_band_bps": D("50"),
        "max_staleness_ms": 2000,
        "breaker": BreakerConfig(failure_threshold=3, cooldown_ms=10_000, probe_timeout_ms=5_000),
    }
    fields.update(overrides)
    return RiskLimits(**fields)


_seq = iter(range(1, 10**9))


def intent(**overrides: Any) -> OrderIntent:
    """A 0.1 BTC limit buy at the mid, from strategy `s1`, with a fresh client_order_id."""
    n = next(_seq)
    fields: dict[str, Any] = {
        "client_order_id": f"coid-{n}",
        "strategy_id": "s1",
        "intent_seq": n,
        "leg": 0,
        "venue": VENUE,
        "product_id": SPOT,
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "size": D("0.1"),
        "limit_price": D("100000.00"),
        "purpose": Purpose.ENTRY,
        "created_ns": NOW,
    }
    fields.update(overrides)
    return OrderIntent(**fields)


def marks(now: int = NOW, spot: str = "100000", fut: str = "100000") -> dict[tuple[str, str], Mark]:
    """Fresh marks for both products."""
    return {(VENUE, SPOT): Mark(price=D(spot), ts_ns=now), (VENUE, FUT): Mark(price=D(fut), ts_ns=now)}


def position(qty: str, *, strategy: str = "s1", product: str = SPOT, avg: str = "100000") -> Position:
    """A filled position as the ledger reports it."""
    return Position(
        strategy_id=strategy,
        venue=VENUE,
        product_id=product,
        quantity=D(qty),
        average_price=D(avg),
        realized_pnl=D(0),
        fees=D(0),
        updated_ns=NOW,
    )


def context(**overrides: Any) -> RiskContext:
    """A context in which the default intent passes."""
    fields: dict[str, Any] = {
        "now_ns": NOW,
        "limits": limits(),
        "products": PRODUCTS,
        "marks": marks(),
    }
    fields.update(overrides)
    return RiskContext(**fields)
