"""Order requests (parsed from Coinbase's `order_configuration`), live orders, fills and public trades."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.errors import MoneyError, OrderRejectedError
from shared.messages import Liquidity, OrderType, Side
from shared.money import ZERO, to_decimal
from shared.timefmt import parse_rfc3339_ns
from shared.venue.types import CoinbaseOrderStatus, CoinbaseTimeInForce

# configuration key -> (order type, time in force); FOK market is CFM-only and checked in validation.
CONFIGURATIONS: dict[str, tuple[OrderType, CoinbaseTimeInForce]] = {
    "market_market_ioc": (OrderType.MARKET, CoinbaseTimeInForce.IOC),
    "market_market_fok": (OrderType.MARKET, CoinbaseTimeInForce.FOK),
    "sor_limit_ioc": (OrderType.LIMIT, CoinbaseTimeInForce.IOC),
    "limit_limit_gtc": (OrderType.LIMIT, CoinbaseTimeInForce.GTC),
    "limit_limit_gtd": (OrderType.LIMIT, CoinbaseTimeInForce.GTD),
    "limit_limit_fok": (OrderType.LIMIT, CoinbaseTimeInForce.FOK),
}


@dataclass(frozen=True, kw_only=True)
class OrderRequest:
    """A validated-shape create-order request; grid and funds checks happen in the engine."""

    client_order_id: str
    product_id: str
    side: Side
    order_type: OrderType
    time_in_force: CoinbaseTimeInForce
    config_key: str
    configuration: dict[str, Any]
    base_size: Decimal | None = None
    quote_size: Decimal | None = None
    limit_price: Decimal | None = None
    post_only: bool = False
    end_time_ns: int | None = None
    account_id: str = ""


def _dec(raw: dict[str, Any], key: str) -> Decimal | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    try:
        return to_decimal(value, field=key)
    except MoneyError as exc:
        raise OrderRejectedError("INVALID_REQUEST", f"{key} is not a decimal string") from exc


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _rfc3339_ns(value: object) -> int:
    if not isinstance(value, str):
        raise OrderRejectedError("INVALID_REQUEST", "end_time must be an RFC3339 string")
    try:
        return parse_rfc3339_ns(value)
    except ValueError as exc:
        raise OrderRejectedError("INVALID_REQUEST", f"bad end_time {value!r}") from exc


def parse_order_request(body: dict[str, Any], *, account_id: str = "") -> OrderRequest:
    """Turn a `POST /orders` JSON body into an `OrderRequest`, or reject with Coinbase's reason."""
    try:
        side = Side(str(body.get("side", "")).upper())
    except ValueError as exc:
        raise OrderRejectedError("INVALID_SIDE", "side must be BUY or SELL") from exc
    config = body.get("order_configuration")
    if not isinstance(config, dict) or len(config) != 1:
        raise OrderRejectedError(
            "UNSUPPORTED_ORDER_CONFIGURATION", "exactly one order configuration is required"
        )
    ((key, raw),) = config.items()
    if key not in CONFIGURATIONS or not isinstance(raw, dict):
        raise OrderRejectedError("UNSUPPORTED_ORDER_CONFIGURATION", f"unsupported order configuration {key}")
    order_type, tif = CONFIGURATIONS[key]
    if key == "limit_limit_fok" and _flag(raw.get("post_only")):
        raise OrderRejectedError("POST_ONLY_NOT_ALLOWED_WITH_FOK", "post_only is not allowed with FOK")
    end_time_ns = None
    if tif is CoinbaseTimeInForce.GTD:
        if not raw.get("end_time"):
            raise OrderRejectedError("GTD_ORDERS_MUST_HAVE_END_TIME", "GTD orders must have an end_time")
        end_time_ns = _rfc3339_ns(raw["end_time"])
    return OrderRequest(
        client_order_id=str(body.get("client_order_id") or ""),
        product_id=str(body.get("product_id", "")),
        side=side,
        order_type=order_type,
        time_in_force=tif,
        config_key=key,
        configuration={key: dict(raw)},
        base_size=_dec(raw, "base_size"),
        quote_size=_dec(raw, "quote_size"),
        limit_price=_dec(raw, "limit_price"),
        post_only=_flag(raw.get("post_only")),
        end_time_ns=end_time_ns,
        account_id=account_id,
    )


@dataclass(kw_only=True, eq=False)
class Order:
    """A live or finished order. Mutated only by the engine; read by renderers."""

    order_id: str
    request: OrderRequest
    created_ns: int
    status: CoinbaseOrderStatus = CoinbaseOrderStatus.OPEN
    filled_size: Decimal = ZERO
    filled_value: Decimal = ZERO
    total_fees: Decimal = ZERO
    number_of_fills: int = 0
    last_fill_ns: int = 0
    updated_ns: int = 0
    hold_remaining: Decimal = ZERO
    hold_per_unit: Decimal = ZERO
    hold_currency: str = ""
    cancel_message: str = ""
    is_liquidity: bool = False
    in_book: bool = False

    @property
    def product_id(self) -> str:
        """The product the order trades."""
        return self.request.product_id

    @property
    def side(self) -> Side:
        """BUY or SELL."""
        return self.request.side

    @property
    def account_id(self) -> str:
        """Owner account; the liquidity provider's orders use the engine's liquidity account."""
        return self.request.account_id

    @property
    def price(self) -> Decimal | None:
        """Limit price, None for market orders."""
        return self.request.limit_price

    @property
    def leaves_size(self) -> Decimal:
        """Unfilled base size (contracts for futures); 0 for quote-sized market orders once done."""
        if self.request.base_size is None or self.status.is_terminal:
            return ZERO
        return self.request.base_size - self.filled_size

    @property
    def average_filled_price(self) -> Decimal:
        """Volume-weighted fill price (0 before any fill)."""
        return ZERO if self.filled_size == ZERO else self.filled_value / self.filled_size


@dataclass(frozen=True, kw_only=True)
class Fill:
    """One side of one trade, as `/orders/historical/fills` reports it (commission in quote)."""

    entry_id: str
    trade_id: str
    order_id: str
    client_order_id: str
    account_id: str
    product_id: str
    side: Side
    price: Decimal
    size: Decimal
    commission: Decimal
    liquidity: Liquidity
    time_ns: int
    sequence: int


@dataclass(frozen=True, kw_only=True)
class Trade:
    """A public print; `side` is the MAKER's side, as Coinbase's market_trades reports it."""

    trade_id: str
    product_id: str
    price: Decimal
    size: Decimal
    side: Side
    time_ns: int


@dataclass(kw_only=True)
class SubmitResult:
    """What `Venue.submit` returns: the order (new or, on an idempotent retry, the original)."""

    order: Order
    duplicate: bool = False
    fills: list[Fill] = field(default_factory=list)
