"""The little risk needs to know about a product: its grid, its minimums and its contract size.

`shared/venue/` is being written in parallel and may grow a richer product type; this one is kept
minimal on purpose so the pure risk rules depend on nothing but messages and money.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from shared.risk._checks import non_negative, positive

ProductKey = tuple[str, str]
"""(venue, product_id): a product id alone is not unique across venues."""


class ProductInfo(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Trading rules of one product, in venue units (contracts for futures)."""

    venue: str
    """Venue the product trades on."""
    product_id: str
    """The venue's product id, e.g. `BTC-USD` or `BIT-28NOV25-CDE`."""
    base_increment: Decimal
    """Order sizes must be whole multiples of this (contracts for futures)."""
    price_increment: Decimal
    """Limit prices must be whole multiples of this (quote currency)."""
    base_min_size: Decimal = Decimal(0)
    """Smallest order size the venue accepts, in venue units."""
    min_notional: Decimal = Decimal(0)
    """Smallest order value in quote currency (Coinbase `min_market_funds`); 0 means none."""
    contract_size: Decimal = Decimal(1)
    """Base units per contract (0.01 BTC for a nano future); 1 for spot."""

    def __post_init__(self) -> None:
        positive("base_increment", self.base_increment)
        positive("price_increment", self.price_increment)
        non_negative("base_min_size", self.base_min_size)
        non_negative("min_notional", self.min_notional)
        positive("contract_size", self.contract_size)

    @property
    def key(self) -> ProductKey:
        """The key products are indexed by."""
        return (self.venue, self.product_id)

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Quote value of `quantity` venue units at `price` per base unit (sign kept)."""
        return quantity * self.contract_size * price


def index_products(products: Iterable[ProductInfo]) -> dict[ProductKey, ProductInfo]:
    """Index products by (venue, product_id) for the risk context."""
    return {p.key: p for p in products}
