"""The paper venue's view of the market: the latest book (or ticker) per product.

`md.book` levels become a product's liquidity in the venue core; `md.ticker` top of book stands in
while a product has no book. Levels are kept here and loaded into the core lazily (`apply`): at once
only while an order rests on the product, otherwise when the next order for it is matched.
Rebuilding the core's book on every tick would cost more than the whole order path.

Until a product's first book or ticker has arrived since start, an order for it waits (up to
`market_wait_s`) and is then nak'd for redelivery, never rejected; meanwhile `ready` is false.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import structlog

from services.execution.config import PaperSettings
from services.execution.errors import MarketDataPendingError
from services.execution.paper.convert import widen
from shared.messages import BookLevel, BookUpdate, Order, Ticker
from shared.quotes import usable
from shared.venue import Product, Venue

_log = structlog.get_logger("execution.paper")
Levels = tuple[BookLevel, ...]


class Liquidity:
    """The latest levels per product, and which products have had market data since start."""

    def __init__(self, engine: Venue, settings: PaperSettings, clock: Callable[[], int]) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._slippage = Decimal(str(settings.slippage_bps))
        self._latest: dict[str, tuple[Product, Levels, Levels]] = {}
        self._book_seen: set[str] = set()
        self._seen: dict[str, asyncio.Event] = {}
        self._waiting: set[str] = set()
        self.updates = 0
        """Book and ticker updates kept so far."""

    def ready(self) -> bool:
        """False while an order waits for (or was nak'd for lack of) a product's first market data."""
        return not self._waiting

    def on_book(self, update: BookUpdate) -> str | None:
        """Keep a book's levels; the product id, or None when the venue does not list it."""
        product = self._engine.products.get(update.product_id)
        if product is None:
            return None
        self._book_seen.add(update.product_id)
        return self._keep(product, update.bids, update.asks)

    def on_ticker(self, ticker: Ticker) -> str | None:
        """Keep a ticker's top of book while its product has no book; the product id if kept."""
        if not usable(ticker):
            return None
        product = self._engine.products.get(ticker.product_id)
        if product is None or not self._settings.use_tickers or ticker.product_id in self._book_seen:
            return None
        bids = (BookLevel(price=ticker.bid, size=ticker.bid_size),)
        asks = (BookLevel(price=ticker.ask, size=ticker.ask_size),)
        return self._keep(product, bids, asks)

    def _keep(self, product: Product, bids: Levels, asks: Levels) -> str:
        pid = product.product_id
        self._latest[pid] = (product, bids, asks)
        self.updates += 1
        self._event(pid).set()
        self._waiting.discard(pid)
        return pid

    def apply(self, product_id: str) -> None:
        """Load the product's latest levels into the venue core (call with the adapter's lock held)."""
        latest = self._latest.pop(product_id, None)
        if latest is None:
            return
        product, bids, asks = latest
        inc = product.price_increment
        self._engine.set_liquidity(
            product_id,
            widen(bids, bids=True, slippage_bps=self._slippage, increment=inc),
            widen(asks, bids=False, slippage_bps=self._slippage, increment=inc),
            self._clock(),
        )

    def _event(self, product_id: str) -> asyncio.Event:
        return self._seen.setdefault(product_id, asyncio.Event())

    async def wait_first(self, order: Order) -> None:
        """Wait for the product's first book/ticker since start; raise (retryable) if none comes.

        Not seeing the market yet is our gap, not the venue's answer: the order is nak'd and
        redelivered, never rejected. Unknown products go on to their real reject.
        """
        product_id = order.product_id
        if product_id not in self._engine.products:
            return
        seen = self._event(product_id)
        if seen.is_set():
            return
        self._waiting.add(product_id)
        try:
            await asyncio.wait_for(seen.wait(), timeout=self._settings.market_wait_s)
        except TimeoutError:
            _log.warning(
                "paper_no_market_data_yet",
                client_order_id=order.client_order_id,
                product_id=product_id,
                waited_s=self._settings.market_wait_s,
            )
            raise MarketDataPendingError(
                f"no market data for {product_id} since start (waited {self._settings.market_wait_s}s)"
            ) from None
