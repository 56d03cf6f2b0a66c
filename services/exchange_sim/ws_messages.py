"""Builders for WS channel events (snapshot and update payloads), shaped like Coinbase's."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from services.exchange_sim.render import fmt, product_json, rfc3339, user_order_json
from services.exchange_sim.state import SimState
from shared.messages import Side
from shared.money import ZERO
from shared.venue import CoinbaseOrderStatus, Order, Trade

EPOCH = "1970-01-01T00:00:00Z"
USER_BATCH = 50
Events = list[dict[str, Any]]


def l2_side(side: Side) -> str:
    """`bid` / `offer`, as l2_data spells sides."""
    return "bid" if side is Side.BUY else "offer"


def level2_snapshot(state: SimState, product_id: str, pad_bytes: int = 0) -> Events:
    """Every level of both sides with absolute quantities; optionally padded to `pad_bytes` (faults)."""
    book = state.venue.books[product_id]
    updates = [
        {"side": l2_side(side), "event_time": EPOCH, "price_level": fmt(p), "new_quantity": fmt(q)}
        for side in (Side.BUY, Side.SELL)
        for p, q in book.levels(side)
    ]
    if pad_bytes > 0:
        floor = book.levels(Side.BUY)[-1][0] if book.best_bid() is not None else Decimal(1_000_000)
        tick = state.venue.products[product_id].price_increment
        for i in range(1, pad_bytes // 90 + 1):
            price = floor - tick * i
            if price <= 0:
                break
            updates.append(
                {"side": "bid", "event_time": EPOCH, "price_level": fmt(price), "new_quantity": "0.0001"}
            )
    return [{"type": "snapshot", "product_id": product_id, "updates": updates}]


def level2_update(product_id: str, changes: Iterable[tuple[Side, Decimal, Decimal]], now_ns: int) -> Events:
    """Changed levels with their absolute size now (`"0"` removes a level)."""
    stamp = rfc3339(now_ns)
    return [
        {
            "type": "update",
            "product_id": product_id,
            "updates": [
                {"side": l2_side(s), "event_time": stamp, "price_level": fmt(p), "new_quantity": fmt(q)}
                for s, p, q in changes
            ],
        }
    ]


def trade_json(trade: Trade) -> dict[str, str]:
    """A market_trades entry; `side` is the maker's side."""
    return {
        "trade_id": trade.trade_id,
        "product_id": trade.product_id,
        "price": fmt(trade.price),
        "size": fmt(trade.size),
        "side": trade.side.value,
        "time": rfc3339(trade.time_ns),
    }


def trades_event(kind: str, trades: Iterable[Trade]) -> Events:
    """A market_trades snapshot or update, newest first."""
    return [{"type": kind, "trades": [trade_json(t) for t in sorted(trades, key=lambda t: -t.time_ns)]}]


def ticker_json(state: SimState, product_id: str) -> dict[str, str]:
    """One ticker object (each carries its own `"type": "ticker"`)."""
    venue = state.venue
    book = venue.books[product_id]
    trades = list(venue.trades[product_id])
    prices = [t.price for t in trades] or [book.mid() or ZERO]
    bid, ask = book.levels(Side.BUY, 1), book.levels(Side.SELL, 1)
    price = venue.last_price.get(product_id, prices[-1])
    first = prices[0]
    change = ZERO if first == ZERO else (price - first) / first * 100
    return {
        "type": "ticker",
        "product_id": product_id,
        "price": fmt(price),
        "volume_24_h": fmt(sum((t.size for t in trades), ZERO)),
        "low_24_h": fmt(min(prices)),
        "high_24_h": fmt(max(prices)),
        "low_52_w": fmt(min(prices)),
        "high_52_w": fmt(max(prices)),
        "price_percent_chg_24_h": fmt(change.quantize(Decimal("0.00000001"))),
        "best_bid": fmt(bid[0][0]) if bid else "",
        "best_bid_quantity": fmt(bid[0][1]) if bid else "",
        "best_ask": fmt(ask[0][0]) if ask else "",
        "best_ask_quantity": fmt(ask[0][1]) if ask else "",
    }


def ticker_event(state: SimState, kind: str, product_ids: Iterable[str]) -> Events:
    """A ticker snapshot/update for these products."""
    return [{"type": kind, "tickers": [ticker_json(state, pid) for pid in product_ids]}]


def candles_event(state: SimState, kind: str, product_ids: Iterable[str]) -> Events:
    """The current five-minute candle per product (the only WS granularity)."""
    now_s = state.now_ns() // 1_000_000_000
    start = now_s // 300 * 300
    rows = []
    for pid in product_ids:
        for c in state.candles.query(pid, start, start + 300, 300):
            rows.append(
                {
                    "start": str(c.start),
                    "high": fmt(c.high),
                    "low": fmt(c.low),
                    "open": fmt(c.open),
                    "close": fmt(c.close),
                    "volume": fmt(c.volume),
                    "product_id": pid,
                }
            )
    return [{"type": kind, "candles": rows}]


def status_event(state: SimState, product_ids: Iterable[str]) -> Events:
    """A status snapshot of the products."""
    products = []
    for pid in product_ids:
        p = product_json(state.venue.products[pid], state.venue)
        products.append(
            {
                "product_type": p["product_type"],
                "id": pid,
                "base_currency": p["base_currency_id"],
                "quote_currency": p["quote_currency_id"],
                "base_increment": p["base_increment"],
                "quote_increment": p["quote_increment"],
                "display_name": p["display_name"],
                "status": "online",
                "status_message": "",
                "min_market_funds": p["quote_min_size"],
            }
        )
    return [{"type": "snapshot", "products": products}]


def user_snapshots(state: SimState, product_ids: set[str]) -> list[Events]:
    """Open orders in batches of 50; a batch with fewer than 50 (possibly empty) ends the snapshot."""
    orders = [
        o
        for o in state.venue.orders.values()
        if o.account_id == state.account_id
        and o.status is CoinbaseOrderStatus.OPEN
        and (not product_ids or o.product_id in product_ids)
    ]
    batches = [orders[i : i + USER_BATCH] for i in range(0, len(orders), USER_BATCH)]
    if not batches or len(batches[-1]) == USER_BATCH:
        batches.append([])
    positions: dict[str, list[Any]] = {"perpetual_futures_positions": [], "expiring_futures_positions": []}
    return [
        [
            {
                "type": "snapshot",
                "orders": [user_order_json(o, state.venue) for o in batch],
                "positions": positions,
            }
        ]
        for batch in batches
    ]


def user_update(state: SimState, orders: Iterable[Order]) -> Events:
    """Changed orders, cumulative state."""
    return [{"type": "update", "orders": [user_order_json(o, state.venue) for o in orders]}]


def heartbeat_event(counter: int, now_ns: int) -> Events:
    """A heartbeats event; `current_time` in Go's time.String() format."""
    stamp = rfc3339(now_ns).replace("T", " ").replace("Z", " +0000 UTC")
    return [{"current_time": stamp, "heartbeat_counter": counter}]
