"""The venue: order entry, cancels, expiry and liquidity over the matching core. Pure: time is passed
in as int ns.

The simulator's REST/WS layers and the paper-execution service both drive this one class, so matching,
holds and fees exist once. Liquidity from a price source is posted by an *unlimited*
liquidity account whose own fills are not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from shared.errors import OrderRejectedError
from shared.messages import FeeRates, OrderType, Side
from shared.venue.errors import UnknownOrderError
from shared.venue.matching import LIQUIDITY_ACCOUNT, MatchingCore, VenueEvents
from shared.venue.orders import Order, OrderRequest, SubmitResult
from shared.venue.products import Product
from shared.venue.settle import required_hold
from shared.venue.types import CoinbaseOrderStatus, CoinbaseTimeInForce
from shared.venue.validate import validate

DuplicateMode = Literal["return", "reject"]
__all__ = ["LIQUIDITY_ACCOUNT", "DuplicateMode", "Venue", "VenueEvents"]


class Venue(MatchingCore):
    """An exchange in memory: submit, cancel, expire, post liquidity; then `drain_events()`."""

    def __init__(
        self,
        products: Iterable[Product],
        *,
        fees: FeeRates | None = None,
        seed: int = 0,
        duplicate_mode: DuplicateMode = "return",
        trade_history: int = 1000,
    ) -> None:
        super().__init__(products, fees=fees, seed=seed, trade_history=trade_history)
        self.duplicate_mode: DuplicateMode = duplicate_mode
        self._by_client_id: dict[tuple[str, str], Order] = {}
        self._liquidity_orders: dict[str, list[Order]] = {pid: [] for pid in self.products}

    def order(self, order_id: str) -> Order:
        """The order, or UnknownOrderError."""
        try:
            return self.orders[order_id]
        except KeyError:
            raise UnknownOrderError(order_id) from None

    def find_client_order(self, account_id: str, client_order_id: str) -> Order | None:
        """The order an account placed with this client_order_id, if any."""
        return self._by_client_id.get((account_id, client_order_id))

    # -- order entry ---------------------------------------------------------------------------
    def submit(self, request: OrderRequest, now_ns: int) -> SubmitResult:
        """Validate, hold funds, match and rest an order; raise OrderRejectedError on reject.

        A reused client_order_id returns the original order untouched (Coinbase's documented
        behaviour), or rejects with DUPLICATE_CLIENT_ORDER_ID when `duplicate_mode == "reject"`.
        """
        key = (request.account_id, request.client_order_id)
        if request.client_order_id and key in self._by_client_id:
            if self.duplicate_mode == "reject":
                raise OrderRejectedError("DUPLICATE_CLIENT_ORDER_ID", "client_order_id is not unique")
            return SubmitResult(order=self._by_client_id[key], duplicate=True)
        if request.product_id not in self.products:
            raise OrderRejectedError("INVALID_PRODUCT_ID", f"unknown product {request.product_id!r}")
        product, book = self.products[request.product_id], self.books[request.product_id]
        validate(request, product, book, now_ns)
        account = self.account(request.account_id)
        currency, hold = required_hold(request, product, book, account, self.fees)
        account.place_hold(currency, hold, futures=product.is_future)
        order = Order(order_id=self.new_id(), request=request, created_ns=now_ns, updated_ns=now_ns)
        order.hold_currency, order.hold_remaining = currency, hold
        if request.base_size:
            order.hold_per_unit = hold / request.base_size
        self.orders[order.order_id] = order
        if request.client_order_id:
            self._by_client_id[key] = order
        fills_before = len(self.fills)
        self._touch(order, now_ns)  # accepted (OPEN), before any fill
        self._execute(order, now_ns)
        return SubmitResult(order=order, fills=self.fills[fills_before:])

    def cancel(self, order_id: str, now_ns: int, *, account_id: str | None = None) -> str | None:
        """Cancel an open order; return None on success or Coinbase's cancel failure reason."""
        order = self.orders.get(order_id)
        if order is None or (account_id is not None and order.account_id != account_id):
            return "UNKNOWN_CANCEL_ORDER"
        if order.status is CoinbaseOrderStatus.FILLED:
            return "ORDER_IS_FULLY_FILLED"
        if order.status.is_terminal:
            return "DUPLICATE_CANCEL_REQUEST"
        self._finish(order, CoinbaseOrderStatus.CANCELLED, now_ns, message="User requested cancel")
        return None

    def retire(self, order_id: str, status: CoinbaseOrderStatus, now_ns: int, *, message: str) -> None:
        """End an open order on the venue's side (EXPIRED at contract expiry, CANCELLED by an
        operator), releasing its hold."""
        order = self.order(order_id)
        if not order.status.is_terminal:
            self._finish(order, status, now_ns, message=message)

    def expire(self, now_ns: int) -> list[Order]:
        """Expire GTD orders whose end_time has passed (status EXPIRED)."""
        due = [
            o
            for o in self.orders.values()
            if o.status is CoinbaseOrderStatus.OPEN
            and o.request.end_time_ns is not None
            and o.request.end_time_ns <= now_ns
        ]
        for order in due:
            self._finish(order, CoinbaseOrderStatus.EXPIRED, now_ns, message="Order expired")
        return due

    # -- liquidity -----------------------------------------------------------------------------
    def set_liquidity(
        self,
        product_id: str,
        bids: Iterable[tuple[Decimal, Decimal]],
        asks: Iterable[tuple[Decimal, Decimal]],
        now_ns: int,
    ) -> None:
        """Replace the price source's resting orders. New levels that cross user orders trade with
        them (the user is maker), which is how a moving market fills resting limits."""
        for order in self._liquidity_orders[product_id]:
            if order.in_book:
                self.books[product_id].remove(order)
                order.status = CoinbaseOrderStatus.CANCELLED
        self._liquidity_orders[product_id] = []
        for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
            for price, size in levels:
                order = self._liquidity_order(product_id, side, size, price, CoinbaseTimeInForce.GTC, now_ns)
                if order.status is CoinbaseOrderStatus.OPEN:
                    self._liquidity_orders[product_id].append(order)

    def take_liquidity(
        self, product_id: str, side: Side, size: Decimal, limit_price: Decimal | None, now_ns: int
    ) -> Order:
        """An outside taker (IOC) hits the book: prints public trades and fills resting orders."""
        return self._liquidity_order(product_id, side, size, limit_price, CoinbaseTimeInForce.IOC, now_ns)

    def _liquidity_order(
        self,
        product_id: str,
        side: Side,
        size: Decimal,
        price: Decimal | None,
        tif: CoinbaseTimeInForce,
        now_ns: int,
    ) -> Order:
        self.product(product_id)
        request = OrderRequest(
            client_order_id="",
            product_id=product_id,
            side=side,
            order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
            time_in_force=tif,
            config_key="liquidity",
            configuration={},
            base_size=size,
            limit_price=price,
            account_id=LIQUIDITY_ACCOUNT,
        )
        order = Order(order_id=self.new_id(), request=request, created_ns=now_ns, is_liquidity=True)
        self._execute(order, now_ns)
        return order
