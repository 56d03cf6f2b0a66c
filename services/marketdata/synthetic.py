"""A seeded random-walk market that speaks Coinbase's WS frames. Pure: time is passed in.

It emits the same frames the venue would (heartbeats, ticker, l2_data snapshot then updates,
market_trades) with a per-connection `sequence_num`, so the synthetic feed runs through exactly the
parsing, sequence and book code the live feed does.
"""

from __future__ import annotations

import asyncio
import math
import random
import zlib
from decimal import Decimal
from typing import Any

import msgspec

from services.marketdata.candles import validate_request
from services.marketdata.errors import CandleRequestError
from shared.messages import Candle, CandleReply, CandleRequest
from shared.timefmt import format_rfc3339

_TICK = Decimal("0.01")
_SIZE_STEP = Decimal("0.00000001")
_DEPTH = 20
_encoder = msgspec.json.Encoder()


class SyntheticMarket:
    """Mid prices walk log-normally; each product keeps a 20-level book around its mid."""

    def __init__(
        self, products: tuple[str, ...], seed: int, start_price: Decimal, vol: float = 0.0004
    ) -> None:
        self.products = products
        self.rng = random.Random(seed)
        self.vol = vol
        self.mids = {p: start_price for p in products}
        self.books: dict[str, dict[tuple[str, Decimal], Decimal]] = {p: {} for p in products}
        self.sequence = 0
        self.heartbeats = 0
        self.trade_ids = 0

    def _frame(self, channel: str, now_ns: int, events: list[dict[str, Any]]) -> bytes:
        body = {
            "channel": channel,
            "client_id": "",
            "timestamp": format_rfc3339(now_ns),
            "sequence_num": self.sequence,
            "events": events,
        }
        self.sequence += 1
        return _encoder.encode(body)

    def _levels(
        self, product: str, old: dict[tuple[str, Decimal], Decimal] | None = None
    ) -> dict[tuple[str, Decimal], Decimal]:
        """A fresh level set around the mid; most surviving levels keep their size (fewer updates)."""
        old = old or {}
        mid = self.mids[product]
        half = max(_TICK, (mid * Decimal("0.00005")).quantize(_TICK))
        levels: dict[tuple[str, Decimal], Decimal] = {}
        for i in range(_DEPTH):
            step = _TICK * (i * 5)
            for side, price in (("bid", mid - half - step), ("offer", mid + half + step)):
                key = (side, price.quantize(_TICK))
                kept = old.get(key)
                if kept is None or self.rng.random() < 0.2:
                    kept = Decimal(self.rng.randint(1_000_000, 300_000_000)) * _SIZE_STEP
                levels[key] = kept
        return levels

    def connect(self, now_ns: int) -> list[bytes]:
        """A new connection: the sequence restarts and every channel sends its snapshot."""
        self.sequence = 0
        frames = [self.heartbeat(now_ns)]
        for product in self.products:
            self.books[product] = levels = self._levels(product)
            updates = [_level(side, price, size) for (side, price), size in levels.items()]
            event = {"type": "snapshot", "product_id": product, "updates": updates}
            frames.append(self._frame("l2_data", now_ns, [event]))
            frames.append(self._ticker(product, now_ns, "snapshot", self.mids[product]))
        return frames

    def heartbeat(self, now_ns: int) -> bytes:
        """The once-a-second liveness frame."""
        self.heartbeats += 1
        event = {"current_time": format_rfc3339(now_ns), "heartbeat_counter": self.heartbeats}
        return self._frame("heartbeats", now_ns, [event])

    def step(self, now_ns: int) -> list[bytes]:
        """Move every mid one step; emit the book diff, a trade and a ticker per product."""
        frames = []
        for product in self.products:
            mid = self.mids[product]
            moved = mid * Decimal(math.exp(self.rng.gauss(0.0, self.vol)))
            self.mids[product] = max(_TICK, moved.quantize(_TICK))
            old = self.books[product]
            new = self._levels(product, old)
            self.books[product] = new
            updates = [_level(s, p, q) for (s, p), q in new.items() if old.get((s, p)) != q]
            updates += [_level(s, p, Decimal(0)) for (s, p) in old if (s, p) not in new]
            event = {"type": "update", "product_id": product, "updates": updates}
            frames.append(self._frame("l2_data", now_ns, [event]))
            buy = self.rng.random() < 0.5
            price = min(p for s, p in new if s == "offer") if buy else max(p for s, p in new if s == "bid")
            frames.append(self._trade(product, now_ns, price, buy))
            frames.append(self._ticker(product, now_ns, "update", price))
        return frames

    def _trade(self, product: str, now_ns: int, price: Decimal, taker_buys: bool) -> bytes:
        self.trade_ids += 1
        size = Decimal(self.rng.randint(100_000, 50_000_000)) * _SIZE_STEP
        trade = {
            "trade_id": str(self.trade_ids),
            "product_id": product,
            "price": str(price),
            "size": str(size),
            "side": "SELL" if taker_buys else "BUY",  # Coinbase reports the maker's side
            "time": format_rfc3339(now_ns),
        }
        return self._frame("market_trades", now_ns, [{"type": "update", "trades": [trade]}])

    def _ticker(self, product: str, now_ns: int, kind: str, last: Decimal) -> bytes:
        book = self.books[product]
        bid = max(((p, q) for (s, p), q in book.items() if s == "bid"), default=(Decimal(0), Decimal(0)))
        ask = min(((p, q) for (s, p), q in book.items() if s == "offer"), default=(Decimal(0), Decimal(0)))
        ticker = {
            "type": "ticker",
            "product_id": product,
            "price": str(last),
            "best_bid": str(bid[0]),
            "best_bid_quantity": str(bid[1]),
            "best_ask": str(ask[0]),
            "best_ask_quantity": str(ask[1]),
        }
        return self._frame("ticker", now_ns, [{"type": kind, "tickers": [ticker]}])


def _level(side: str, price: Decimal, size: Decimal) -> dict[str, str]:
    return {"side": side, "event_time": "", "price_level": str(price), "new_quantity": str(size)}


class SyntheticCandles:
    """Candle history for the synthetic source, so warm-up works with no exchange at all.

    Each bar is a pure function of (seed, product, granularity, bar index): two slow waves plus
    seeded noise around the start price. Every request for the same bars gets the same numbers,
    which is what a backtest or a warm-up needs; it does not continue the live walk's path.
    """

    def __init__(self, venue: str, seed: int, start_price: Decimal, max_bars: int) -> None:
        self.venue = venue
        self.seed = seed
        self.start_price = start_price
        self.max_bars = max_bars

    def _key(self, product_id: str, granularity_s: int) -> int:
        return _mix(self.seed * 1_000_003 + zlib.crc32(product_id.encode()) * 7919 + granularity_s)

    def _mid(self, key: int, index: int) -> float:
        wave = 0.04 * math.sin(2 * math.pi * index / 480) + 0.015 * math.sin(2 * math.pi * index / 60)
        return float(self.start_price) * math.exp(wave + 0.002 * _normal(key, index))

    def bars(self, product_id: str, start: int, end: int, granularity_s: int) -> tuple[Candle, ...]:
        """Every bar whose start lies in [start, end), oldest first."""
        key = self._key(product_id, granularity_s)
        out = []
        for index in range(-(-start // granularity_s), -(-end // granularity_s)):
            open_, close = self._mid(key, index - 1), self._mid(key, index)
            wick = 0.001 * abs(_normal(key ^ 0x5BD1E995, index))
            out.append(
                Candle(
                    venue=self.venue,
                    product_id=product_id,
                    start=index * granularity_s,
                    granularity_s=granularity_s,
                    open=_price(open_),
                    high=_price(max(open_, close) * (1 + wick)),
                    low=_price(min(open_, close) * (1 - wick)),
                    close=_price(close),
                    volume=Decimal(1_000_000 + _mix(key + index) % 5_000_000_000) * _SIZE_STEP,
                )
            )
        return tuple(out)

    async def handle(self, request: CandleRequest) -> CandleReply:
        """The NATS request handler (same validation and replies as the REST-backed one)."""
        try:
            validate_request(request, self.venue, self.max_bars)
        except CandleRequestError as exc:
            return CandleReply(error=f"{type(exc).__name__}: {exc}")
        bars = await asyncio.to_thread(
            self.bars, request.product_id, request.start, request.end, request.granularity_s
        )  # a big request takes a few hundred ms: let the feed's loop keep running meanwhile
        return CandleReply(candles=bars)


_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    """splitmix64: a cheap, well-spread integer hash (seeding a `Random` per bar is far slower)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _normal(key: int, index: int) -> float:
    """A standard-normal draw that depends only on (key, index): Box-Muller on two hashed uniforms."""
    first = _mix(key + 2 * index)
    u1 = ((first >> 11) + 1) / 9007199254740993
    u2 = (_mix(first) >> 11) / 9007199254740992
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)


def _price(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_TICK)
