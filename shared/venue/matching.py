"""Matching internals shared by `Venue`: price-time matching, fills, order completion, events.

Kept apart from the order-entry API so each module stays small; nothing here is public API.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from shared.messages import FeeRates, Liquidity, OrderType, Side
from shared.money import ZERO, round_to_increment
from shared.venue.accounts import Account
from shared.venue.book import OrderBook
from shared.venue.errors import UnknownProductError
from shared.venue.fees import DEFAULT_FEES
from shared.venue.orders import Fill, Order, Trade
from shared.venue.products import Product
from shared.venue.settle import settle_fill
from shared.venue.types import CoinbaseOrderStatus, CoinbaseTimeInForce

LIQUIDITY_ACCOUNT = "liquidity"


@dataclass(kw_only=True)
class VenueEvents:
    """What changed since the last drain: user orders, public prints, book levels (absolute sizes)."""

    orders: list[Order] = field(default_factory=list)
    """Point-in-time copies of user orders, one per change, oldest first."""
    trades: list[Trade] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    book_changes: dict[str, list[tuple[Side, Decimal, Decimal]]] = field(default_factory=dict)


class MatchingCore:
    """State of a venue (products, books, accounts, fills, prints) and the matching loop."""

    def __init__(
        self, products: Iterable[Product], *, fees: FeeRates | None, seed: int, trade_history: int
    ) -> None:
        self.products: dict[str, Product] = {p.product_id: p for p in products}
        self.books = {pid: OrderBook(pid) for pid in self.products}
        self.fees = fees or DEFAULT_FEES
        self.accounts: dict[str, Account] = {}
        self.liquidity = Account(account_id=LIQUIDITY_ACCOUNT, unlimited=True)
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.trades: dict[str, deque[Trade]] = {pid: deque(maxlen=trade_history) for pid in self.products}
        self.last_price: dict[str, Decimal] = {}
        self._rng = random.Random(seed)
        self._fill_seq = 0
        self._events = VenueEvents()

    def new_id(self) -> str:
        """A UUID4 drawn from the seeded generator, so the same seed gives the same ids."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def product(self, product_id: str) -> Product:
        """The product, or UnknownProductError."""
        try:
            return self.products[product_id]
        except KeyError:
            raise UnknownProductError(product_id) from None

    def account(self, account_id: str) -> Account:
        """The account, created empty on first use (the liquidity account is unlimited)."""
        if account_id == LIQUIDITY_ACCOUNT:
            return self.liquidity
        if account_id not in self.accounts:
            self.accounts[account_id] = Account(account_id=account_id)
        return self.accounts[account_id]

    # -- matching ------------------------------------------------------------------------------
    def _execute(self, order: Order, now_ns: int) -> None:
        product, book = self.products[order.product_id], self.books[order.product_id]
        request = order.request
        if request.time_in_force is CoinbaseTimeInForce.FOK and not self._fully_fillable(order):
            self._finish(
                order, CoinbaseOrderStatus.CANCELLED, now_ns, message="FOK order could not be filled"
            )
            return
        budget = request.quote_size
        budget_spent = False
        self_trade = False
        taker_rate = self.fees.taker(product)
        for maker in book.matchable(order.side, request.limit_price):
            if maker.account_id == order.account_id and not order.is_liquidity:
                self_trade = True  # self-trade prevention: cancel the newest (taker) remainder
                break
            size = maker.leaves_size
            if budget is not None:
                assert maker.price is not None
                affordable = round_to_increment(
                    budget / (maker.price * (1 + taker_rate)), product.base_increment, mode="down"
                )
                size = min(size, affordable)
            elif request.base_size is not None:
                size = min(size, request.base_size - order.filled_size)
            if size <= ZERO:
                budget_spent = budget is not None
                break
            assert maker.price is not None
            spent = self._trade(order, maker, size, maker.price, now_ns)
            if budget is not None:
                budget -= spent
            if request.base_size is not None and order.filled_size >= request.base_size:
                break
        if self_trade and order.status is CoinbaseOrderStatus.OPEN:
            self._finish(order, CoinbaseOrderStatus.CANCELLED, now_ns, message="Self-trade prevention")
            return
        self._after_match(order, now_ns, budget_spent=budget_spent)

    def _after_match(self, order: Order, now_ns: int, *, budget_spent: bool) -> None:
        request = order.request
        done = request.base_size is not None and order.filled_size >= request.base_size
        if done:
            self._finish(order, CoinbaseOrderStatus.FILLED, now_ns)
        elif (
            request.time_in_force in (CoinbaseTimeInForce.GTC, CoinbaseTimeInForce.GTD)
            and request.order_type is OrderType.LIMIT
        ):
            self.books[order.product_id].add(order)
        elif request.base_size is None and budget_spent and order.filled_size > ZERO:
            self._finish(order, CoinbaseOrderStatus.FILLED, now_ns)  # a quote-sized order spent what it could
        else:
            self._finish(order, CoinbaseOrderStatus.CANCELLED, now_ns, message="IOC remainder cancelled")

    def _fully_fillable(self, order: Order) -> bool:
        wanted = order.request.base_size
        if wanted is None:
            return False
        available = ZERO
        for maker in self.books[order.product_id].matchable(order.side, order.request.limit_price):
            if maker.account_id == order.account_id:
                break
            available += maker.leaves_size
            if available >= wanted:
                return True
        return False

    def _trade(self, taker: Order, maker: Order, size: Decimal, price: Decimal, now_ns: int) -> Decimal:
        product = self.products[taker.product_id]
        trade_id = self.new_id()
        fee_taker = self._fill(taker, size, price, Liquidity.TAKER, trade_id, now_ns)
        self._fill(maker, size, price, Liquidity.MAKER, trade_id, now_ns)
        self.books[maker.product_id].reduce(maker, size)
        if maker.request.base_size is not None and maker.filled_size >= maker.request.base_size:
            self._finish(maker, CoinbaseOrderStatus.FILLED, now_ns)
        trade = Trade(
            trade_id=trade_id,
            product_id=product.product_id,
            price=price,
            size=size,
            side=maker.side,
            time_ns=now_ns,
        )
        self.trades[product.product_id].append(trade)
        self._events.trades.append(trade)
        self.last_price[product.product_id] = price
        return product.notional(size, price) + fee_taker

    def _fill(
        self, order: Order, size: Decimal, price: Decimal, liquidity: Liquidity, trade_id: str, now_ns: int
    ) -> Decimal:
        product = self.products[order.product_id]
        account = self.account(order.account_id)
        commission = settle_fill(account, order, product, size, price, liquidity, self.fees, now_ns)
        if not order.is_liquidity:
            self._fill_seq += 1
            fill = Fill(
                entry_id=self.new_id(),
                trade_id=trade_id,
                order_id=order.order_id,
                client_order_id=order.request.client_order_id,
                account_id=order.account_id,
                product_id=order.product_id,
                side=order.side,
                price=price,
                size=size,
                commission=commission,
                liquidity=liquidity,
                time_ns=now_ns,
                sequence=self._fill_seq,
            )
            self.fills.append(fill)
            self._events.fills.append(fill)
            self._touch(order, now_ns)
        return commission

    def _finish(self, order: Order, status: CoinbaseOrderStatus, now_ns: int, *, message: str = "") -> None:
        if order.in_book:
            self.books[order.product_id].remove(order)
        order.status = status
        order.cancel_message = message
        self.account(order.account_id).release(order.hold_currency, order.hold_remaining)
        order.hold_remaining = ZERO
        self._touch(order, now_ns)

    def _touch(self, order: Order, now_ns: int) -> None:
        """Record a snapshot of a user order's state now, so feeds can report each step
        (accepted, every cumulative fill, terminal) rather than only the final state."""
        order.updated_ns = now_ns
        if not order.is_liquidity:
            self._events.orders.append(copy.copy(order))

    def drain_events(self) -> VenueEvents:
        """Hand over everything that changed since the last call (the caller publishes it)."""
        events, self._events = self._events, VenueEvents()
        for pid, book in self.books.items():
            changes = book.drain_changes()
            if changes:
                events.book_changes[pid] = changes
        return events
