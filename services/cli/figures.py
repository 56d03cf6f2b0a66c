"""Numbers as the CLI shows them: for people, rounded to the product's grid (money to the cent of a
cash quote currency, prices to the product's price increment, sizes to its base increment, from the
venue catalogue in KV `products`); in JSON, exact and never in exponent notation."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from shared import subjects
from shared.bus import Bus
from shared.messages import ProductInfo
from shared.money import display

CENTS = Decimal("0.01")
CASH = frozenset({"USD", "USDC", "USDT", "EUR", "GBP"})
"""Quote currencies counted in cents."""


def quote_currency(product_id: str) -> str:
    """`BTC-USD` → `USD`; futures and perpetuals (`BIP-20DEC30-CDE`) settle in USD."""
    parts = product_id.split("-")
    return parts[1] if len(parts) == 2 else "USD"


def num(value: Decimal | None) -> str:
    """A Decimal whose grid is unknown: plain notation, trailing zeros dropped (0E-8 → 0)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


class Figures:
    """The grid of each product the view shows (those the catalogue has; others print plainly)."""

    def __init__(self, products: Iterable[ProductInfo] = ()) -> None:
        self.products = {p.product_id: p for p in products}

    async def load(self, bus: Bus, wanted: Iterable[str]) -> None:
        """Fetch from KV `products` the wanted products not known yet (one venue's copy is enough)."""
        missing = set(wanted) - set(self.products)
        if not missing:
            return
        kv = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)
        for key in await kv.keys():
            product_id = key.partition(".")[2]
            if product_id in missing:
                entry = await kv.get(key)
                if entry is not None:
                    self.products[product_id] = entry.value
                    missing.discard(product_id)

    def size(self, product_id: str, value: Decimal | None) -> str:
        """A size on the product's base increment (contracts for futures)."""
        product = self.products.get(product_id)
        if value is None or product is None:
            return num(value)
        return display(value, product.base_increment)

    def price(self, product_id: str, value: Decimal | None) -> str:
        """A price on the product's price increment (cents for a USD product the catalogue lacks)."""
        product = self.products.get(product_id)
        if value is None:
            return ""
        if product is not None:
            return display(value, product.price_increment)
        return display(value, CENTS) if quote_currency(product_id) in CASH else num(value)

    def money(self, value: Decimal | None, product_id: str = "") -> str:
        """An amount of quote currency (PnL, fees, exposure): cents for cash, else the product's price
        increment. Without a product (portfolio totals) the currency is USD."""
        if value is None:
            return ""
        if not product_id or quote_currency(product_id) in CASH:
            return display(value, CENTS)
        product = self.products.get(product_id)
        return display(value, product.price_increment) if product is not None else num(value)
