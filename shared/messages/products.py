"""What risk and strategies need to know about a product and the account's fee tier.

Execution writes both to KV (`products`, key `<venue>.<product_id>`; `fee_rates`, key the venue);
they stay minimal so the pure risk rules depend on nothing but messages and money.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from shared.messages.checks import non_negative, positive

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
    is_future: bool = False
    """A futures contract (its fees come from the futures tier)."""

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


class FeeRates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The account's current fee tier at one venue, as `GET /transaction_summary` reports it for
    spot and for futures (fractions: 0.006 = 60 bps). Execution writes it to KV `fee_rates` (key:
    the venue) at start and on every catalogue refresh; strategies price their trades with it."""

    venue: str
    pricing_tier: str
    spot_maker: Decimal
    spot_taker: Decimal
    futures_maker: Decimal
    futures_taker: Decimal
    fetched_ns: int

    def __post_init__(self) -> None:
        for name in ("spot_maker", "spot_taker", "futures_maker", "futures_taker"):
            value = getattr(self, name)
            non_negative(name, value)
            if value >= 1:
                raise ValueError(f"{name} must be a fraction below 1, got {value}")

    def taker(self, product: ProductInfo) -> Decimal:
        """The taker rate that applies to `product`."""
        return self.futures_taker if product.is_future else self.spot_taker

    def maker(self, product: ProductInfo) -> Decimal:
        """The maker rate that applies to `product`."""
        return self.futures_maker if product.is_future else self.spot_maker
