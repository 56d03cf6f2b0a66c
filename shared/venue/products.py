"""Product definitions with Coinbase's increments, and the default catalogue.

Futures are CFM nano BTC contracts: whole contracts, 0.01 BTC each, priced per whole coin on a $5 grid.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from shared.messages.products import ProductInfo
from shared.venue.types import ProductType

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True, kw_only=True)
class FutureDetails:
    """The `future_product_details` a CFM product carries."""

    contract_code: str
    contract_size: Decimal
    contract_expiry: datetime
    display_name: str
    is_perp_style: bool = False
    funding_rate: Decimal = Decimal(0)
    intraday_long_margin: Decimal = Decimal("0.1")
    intraday_short_margin: Decimal = Decimal("0.1")
    overnight_long_margin: Decimal = Decimal("0.234375")
    overnight_short_margin: Decimal = Decimal("0.289")

    def margin_rate(self, *, long: bool) -> Decimal:
        """Initial margin rate the simulator holds: the (stricter) overnight rate."""
        return self.overnight_long_margin if long else self.overnight_short_margin


@dataclass(frozen=True, kw_only=True)
class Product:
    """One tradable product. For futures, sizes are contracts and prices are per whole coin.

    A venue's full catalogue entry (status, size limits, contract details) that the simulator
    enforces and serves over REST; `info` is the part risk and strategies trade by (KV `products`).
    """

    product_id: str
    product_type: ProductType
    base_currency: str
    quote_currency: str
    base_increment: Decimal
    quote_increment: Decimal
    price_increment: Decimal
    base_min_size: Decimal
    base_max_size: Decimal
    quote_min_size: Decimal
    quote_max_size: Decimal
    base_name: str = ""
    quote_name: str = "US Dollar"
    status: str = "online"
    trading_disabled: bool = False
    cancel_only: bool = False
    limit_only: bool = False
    post_only: bool = False
    session_open: bool = True
    future: FutureDetails | None = field(default=None)

    @property
    def is_future(self) -> bool:
        """True for CFM futures (contracts, margin) rather than spot (coins, full funding)."""
        return self.future is not None

    @property
    def contract_size(self) -> Decimal:
        """Coins per unit of size: 1 for spot, the contract size for futures."""
        return self.future.contract_size if self.future is not None else Decimal(1)

    def notional(self, size: Decimal, price: Decimal) -> Decimal:
        """Quote value of `size` units at `price`."""
        return size * self.contract_size * price

    def info(self, venue: str) -> ProductInfo:
        """The trading rules of this product at `venue`, as KV `products` carries them."""
        return ProductInfo(
            venue=venue,
            product_id=self.product_id,
            base_increment=self.base_increment,
            price_increment=self.price_increment,
            base_min_size=self.base_min_size,
            min_notional=self.quote_min_size,
            contract_size=self.contract_size,
            is_future=self.product_type is ProductType.FUTURE,
        )


def spot(
    base: str, quote: str, base_inc: str, price_inc: str, *, name: str = "", max_size: str = "10000"
) -> Product:
    """A spot product with Coinbase-like limits (min notional 1 quote unit)."""
    return Product(
        product_id=f"{base}-{quote}",
        product_type=ProductType.SPOT,
        base_currency=base,
        quote_currency=quote,
        base_increment=Decimal(base_inc),
        quote_increment=Decimal("0.01"),
        price_increment=Decimal(price_inc),
        base_min_size=Decimal(base_inc),
        base_max_size=Decimal(max_size),
        quote_min_size=Decimal(1),
        quote_max_size=Decimal(150_000_000),
        base_name=name or base,
    )


def last_friday(year: int, month: int) -> int:
    """Day of month of the last Friday: the BIT monthly expiry day."""
    last_day = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last_day)
    return last_day - ((weekday - calendar.FRIDAY) % 7)


def future_symbol(code: str, expiry: datetime) -> str:
    """`BIT-27NOV26-CDE` style id for a contract expiring at `expiry`."""
    return f"{code}-{expiry.day:02d}{_MONTHS[expiry.month - 1]}{expiry.year % 100:02d}-CDE"


def front_month_expiry(now_ns: int) -> datetime:
    """The next monthly BIT expiry (last Friday, 15:00Z) not yet passed at `now_ns`."""
    now = datetime.fromtimestamp(now_ns / 1e9, tz=UTC)
    year, month = now.year, now.month
    for _ in range(2):
        expiry = datetime(year, month, last_friday(year, month), 15, tzinfo=UTC)
        if expiry > now:
            return expiry
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return expiry


def btc_nano_future(expiry: datetime, *, perp_style: bool = False) -> Product:
    """A nano BTC future (`BIT-…-CDE` monthly or `BIP-20DEC30-CDE` perp-style)."""
    code = "BIP" if perp_style else "BIT"
    months = _MONTHS[expiry.month - 1]
    details = FutureDetails(
        contract_code=code,
        contract_size=Decimal("0.01"),
        contract_expiry=expiry,
        display_name="BTC PERP" if perp_style else f"BTC {expiry.day:02d} {months} {expiry.year % 100:02d}",
        is_perp_style=perp_style,
        funding_rate=Decimal("0.000013") if perp_style else Decimal(0),
        overnight_long_margin=Decimal("0.2456") if perp_style else Decimal("0.234375"),
        overnight_short_margin=Decimal("0.3064") if perp_style else Decimal("0.289"),
    )
    return Product(
        product_id=future_symbol(code, expiry),
        product_type=ProductType.FUTURE,
        base_currency="",
        quote_currency="USD",
        base_increment=Decimal(1),
        quote_increment=Decimal("0.01"),
        price_increment=Decimal(5),
        base_min_size=Decimal(1),
        base_max_size=Decimal(5000),
        quote_min_size=Decimal(0),
        quote_max_size=Decimal(100_000_000),
        base_name="nano Bitcoin Futures",
        status="",
        future=details,
    )


BIP_EXPIRY = datetime(2030, 12, 20, 16, tzinfo=UTC)


def default_products(now_ns: int) -> list[Product]:
    """The simulator's catalogue: BTC/ETH/SOL/LTC/DOGE spot, a front-month BIT and BIP-20DEC30-CDE."""
    return [
        spot("BTC", "USD", "0.00000001", "0.01", name="Bitcoin", max_size="3400"),
        spot("ETH", "USD", "0.00000001", "0.01", name="Ethereum", max_size="50000"),
        spot("SOL", "USD", "0.00000001", "0.01", name="Solana", max_size="500000"),
        spot("LTC", "USD", "0.00000001", "0.01", name="Litecoin", max_size="100000"),
        spot("DOGE", "USD", "0.1", "0.00001", name="Dogecoin", max_size="50000000"),
        btc_nano_future(front_month_expiry(now_ns)),
        btc_nano_future(BIP_EXPIRY, perp_style=True),
    ]
