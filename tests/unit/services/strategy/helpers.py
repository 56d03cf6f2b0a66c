"""Builders for the strategy-service unit tests: products, tickers, fills and events."""

from __future__ import annotations

from decimal import Decimal

from shared.messages import ProductInfo
from shared.messages.base import Side
from shared.messages.market import Ticker
from shared.messages.orders import Fill, Liquidity, OrderEvent, OrderStatus, client_order_id

D = Decimal
SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def info(
    product: str, base_increment: str = "0.0001", min_size: str = "0", min_notional: str = "0"
) -> ProductInfo:
    """Trading rules of one product."""
    return ProductInfo(
        venue="coinbase",
        product_id=product,
        base_increment=D(base_increment),
        price_increment=D("0.01"),
        base_min_size=D(min_size),
        min_notional=D(min_notional),
    )


def tick(product: str, price: object, ts_ns: int, last: object = None) -> Ticker:
    """A ticker at `price` (bid/ask a cent either side) stamped `ts_ns`."""
    p = D(str(price))
    return Ticker(
        venue="coinbase",
        product_id=product,
        bid=p - D("0.01"),
        ask=p + D("0.01"),
        bid_size=D(1),
        ask_size=D(1),
        last=D(str(last)) if last is not None else p,
        exchange_time_ns=ts_ns,
        receive_time_ns=ts_ns,
        sequence=0,
    )


def fill_of(
    sid: str, seq: int, leg: int, product: str, side: Side, size: str, price: str = "100", trade: str = ""
) -> Fill:
    """A fill of our order (sid, seq, leg)."""
    return Fill(
        trade_id=trade or f"{sid}-{seq}-{leg}-{size}",
        client_order_id=client_order_id(sid, seq, leg),
        strategy_id=sid,
        venue="coinbase",
        product_id=product,
        side=side,
        price=D(price),
        size=D(size),
        fee=D(0),
        liquidity=Liquidity.TAKER,
        fill_ns=T0,
    )


def event_of(
    sid: str, seq: int, leg: int, product: str, side: Side, status: OrderStatus, filled: str
) -> OrderEvent:
    """An order event of our order (sid, seq, leg)."""
    return OrderEvent(
        client_order_id=client_order_id(sid, seq, leg),
        strategy_id=sid,
        venue="coinbase",
        product_id=product,
        side=side,
        status=status,
        size=D(filled),
        filled_size=D(filled),
        event_ns=T0,
    )
