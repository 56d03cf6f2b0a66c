"""What risk and strategies need to know about a product and the account's fee tier.

Execution writes both to KV (`products`, key `<venue>.<product_id>`; `fee_rates`, key the venue);
they stay minimal so the pure risk rules depend on nothing but messages and money.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

import msgspec

from shared.messages.checks import non_negative, positive
from shared.messages.orders import Liquidity

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

    def unsendable(self, size: Decimal, price: Decimal | None) -> str:
        """Why an order of `size` (already on the size grid) cannot go to the venue, '' when it
        can: the one rule strategies, the SDK and the intent builder share. Without a usable
        `price` (None, not finite, not positive) the notional minimum cannot be judged here;
        risk checks it again with the price it has."""
        if size <= 0:
            return "size_rounds_to_zero"
        if size < self.base_min_size:
            return "below_min_size"
        if price is None or not price.is_finite() or price <= 0 or self.min_notional <= 0:
            return ""
        return "below_min_notional" if self.notional(size, price) < self.min_notional else ""


def index_products(products: Iterable[ProductInfo]) -> dict[ProductKey, ProductInfo]:
    """Index products by (venue, product_id) for the risk context."""
    return {p.key: p for p in products}


class Priced(Protocol):
    """Anything fees can be looked up for: a `ProductInfo` or the venue core's `Product`."""

    @property
    def is_future(self) -> bool: ...


class FeeTier(msgspec.Struct, frozen=True, kw_only=True):
    """One product type's rates, as one `GET /transaction_summary` call reports them. A view of
    half a `FeeRates` (never stored on its own), kept because the venue reports tiers this way."""

    pricing_tier: str
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal

    def rate(self, liquidity: Liquidity) -> Decimal:
        """The rate charged for a fill with this liquidity."""
        return self.maker_fee_rate if liquidity is Liquidity.MAKER else self.taker_fee_rate


class FeeRates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The account's current fee tier at one venue, as `GET /transaction_summary` reports it for
    spot and for futures (fractions: 0.006 = 60 bps). The one fee type: execution writes it to KV
    `fee_rates` (key: the venue) at start and on every catalogue refresh, strategies price their
    trades with it, and the venue core (simulator, paper) charges its fills with it."""

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

    @classmethod
    def of(cls, *, spot: FeeTier, futures: FeeTier, venue: str = "", fetched_ns: int = 0) -> FeeRates:
        """From the two tiers (the spot tier names the whole)."""
        return cls(
            venue=venue,
            pricing_tier=spot.pricing_tier,
            spot_maker=spot.maker_fee_rate,
            spot_taker=spot.taker_fee_rate,
            futures_maker=futures.maker_fee_rate,
            futures_taker=futures.taker_fee_rate,
            fetched_ns=fetched_ns,
        )

    @property
    def spot(self) -> FeeTier:
        """The spot tier."""
        return FeeTier(
            pricing_tier=self.pricing_tier, maker_fee_rate=self.spot_maker, taker_fee_rate=self.spot_taker
        )

    @property
    def futures(self) -> FeeTier:
        """The futures tier."""
        return FeeTier(
            pricing_tier=self.pricing_tier,
            maker_fee_rate=self.futures_maker,
            taker_fee_rate=self.futures_taker,
        )

    def tier_for(self, product: Priced) -> FeeTier:
        """The tier for fills on `product`."""
        return self.futures if product.is_future else self.spot

    def taker(self, product: Priced) -> Decimal:
        """The taker rate that applies to `product`."""
        return self.futures_taker if product.is_future else self.spot_taker

    def maker(self, product: Priced) -> Decimal:
        """The maker rate that applies to `product`."""
        return self.futures_maker if product.is_future else self.spot_maker

    def fee(self, product: Priced, notional: Decimal, liquidity: Liquidity) -> Decimal:
        """Commission in quote currency for a fill of `notional` (notional × rate, unrounded)."""
        return notional * self.tier_for(product).rate(liquidity)
