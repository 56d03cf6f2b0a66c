"""Net positions and notionals as risk sees them: filled positions plus approved-but-unfilled orders.

Notionals use the product's mark; without one, the position's last mark, then its average price, so a
product whose feed is down still counts towards exposure instead of silently counting as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from shared.ledger import Mark, PositionKey
from shared.messages import ProductInfo, ProductKey
from shared.messages.risk import Position
from shared.money import ONE, ZERO


class Exposure:
    """Signed quantities per (strategy, venue, product) and the prices to value them at."""

    def __init__(
        self,
        positions: Sequence[Position],
        pending: Mapping[PositionKey, Decimal],
        marks: Mapping[ProductKey, Mark],
        products: Mapping[ProductKey, ProductInfo],
    ) -> None:
        self._qty: dict[PositionKey, Decimal] = {}
        self._price: dict[ProductKey, Decimal] = {}
        for p in positions:
            key = PositionKey(p.strategy_id, p.venue, p.product_id)
            self._qty[key] = self._qty.get(key, ZERO) + p.quantity
            fallback = p.mark if p.mark is not None else p.average_price
            self._price.setdefault((p.venue, p.product_id), fallback)
        for key, qty in pending.items():
            self._qty[PositionKey(*key)] = self._qty.get(PositionKey(*key), ZERO) + qty
        for product, mark in marks.items():
            self._price[product] = mark.price
        self._products = products

    def strategy_quantity(self, strategy_id: str, product: ProductKey) -> Decimal:
        """One strategy's signed quantity in a product, pending orders included."""
        return self._qty.get(PositionKey(strategy_id, *product), ZERO)

    def net_quantity(self, product: ProductKey) -> Decimal:
        """All strategies' signed quantity in a product, pending orders included."""
        return sum((q for k, q in self._qty.items() if (k.venue, k.product_id) == product), ZERO)

    def value(self, product: ProductKey, quantity: Decimal, price: Decimal | None = None) -> Decimal:
        """|quantity| × contract size × price (the product's known price unless one is given)."""
        info = self._products.get(product)
        size = info.contract_size if info is not None else ONE
        return abs(quantity) * size * (self._price.get(product, ZERO) if price is None else price)

    def strategy_notional(self, strategy_id: str, change: tuple[ProductKey, Decimal, Decimal]) -> Decimal:
        """Strategy gross notional with `change` = (product, signed delta, price) applied to it."""
        product, delta, price = change
        total = ZERO
        for key, qty in self._qty.items():
            if key.strategy_id == strategy_id and (key.venue, key.product_id) != product:
                total += self.value((key.venue, key.product_id), qty)
        return total + self.value(product, self.strategy_quantity(strategy_id, product) + delta, price)

    def gross(self, change: tuple[ProductKey, Decimal, Decimal]) -> Decimal:
        """Portfolio gross exposure (Σ over products of |net| × price) with `change` applied."""
        product, delta, price = change
        products = {(k.venue, k.product_id) for k in self._qty}
        total = sum(
            (self.value(p, self.net_quantity(p)) for p in products if p != product),
            ZERO,
        )
        return total + self.value(product, self.net_quantity(product) + delta, price)

    def total_gross(self) -> Decimal:
        """Portfolio gross exposure as it stands (for `RiskState.gross_exposure`)."""
        products = {(k.venue, k.product_id) for k in self._qty}
        return sum((self.value(p, self.net_quantity(p)) for p in products), ZERO)
