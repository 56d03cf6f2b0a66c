"""Holds before matching and balance changes per fill, for spot and futures alike."""

from __future__ import annotations

from decimal import Decimal

from shared.messages import FeeRates, Liquidity, Side
from shared.money import ZERO
from shared.venue.accounts import Account
from shared.venue.book import OrderBook
from shared.venue.orders import Order, OrderRequest
from shared.venue.products import Product


def estimate_cost(book: OrderBook, side: Side, size: Decimal, product: Product) -> Decimal:
    """Quote value of taking `size` from the book now (what a base-sized market order will spend)."""
    remaining, cost = size, ZERO
    for price, qty in book.levels(side.opposite):
        take = min(qty, remaining)
        cost += product.notional(take, price)
        remaining -= take
        if remaining <= ZERO:
            break
    return cost


def opening_size(account: Account, product: Product, side: Side, size: Decimal) -> Decimal:
    """Part of a futures order that opens or grows a position (reducing needs no margin)."""
    contracts = account.position(product.product_id).contracts
    reducing = -contracts if side is Side.BUY else contracts
    return max(ZERO, size - max(ZERO, reducing))


def required_hold(
    request: OrderRequest, product: Product, book: OrderBook, account: Account, fees: FeeRates
) -> tuple[str, Decimal]:
    """(currency, amount) an order must reserve: quote for buys (price·size·(1+fee)), base for sells,
    initial margin plus fee for futures."""
    taker = fees.taker(product)
    if product.is_future:
        assert request.base_size is not None
        size = opening_size(account, product, request.side, request.base_size)
        price = request.limit_price
        notional = (
            product.notional(size, price)
            if price is not None
            else estimate_cost(book, request.side, size, product)
        )
        fee = product.notional(request.base_size, price) * taker if price is not None else notional * taker
        assert product.future is not None
        return product.quote_currency, notional * product.future.margin_rate(
            long=request.side is Side.BUY
        ) + fee
    if request.side is Side.BUY:
        if request.quote_size is not None:
            return product.quote_currency, request.quote_size
        assert request.base_size is not None
        if request.limit_price is not None:
            return product.quote_currency, request.limit_price * request.base_size * (1 + taker)
        return product.quote_currency, estimate_cost(book, Side.BUY, request.base_size, product) * (1 + taker)
    if request.base_size is not None:
        return product.base_currency, request.base_size
    assert request.quote_size is not None
    best = book.best_bid() or Decimal(1)
    return product.base_currency, request.quote_size / best


def settle_fill(
    account: Account,
    order: Order,
    product: Product,
    size: Decimal,
    price: Decimal,
    liquidity: Liquidity,
    fees: FeeRates,
    time_ns: int,
) -> Decimal:
    """Apply one fill to the order and its account; return the commission (quote currency)."""
    notional = product.notional(size, price)
    commission = fees.fee(product, notional, liquidity)
    order.filled_size += size
    order.filled_value += notional
    order.total_fees += commission
    order.number_of_fills += 1
    order.last_fill_ns = order.updated_ns = time_ns
    if account.unlimited:
        return commission
    release = _hold_release(order, size, notional + commission)
    account.release(order.hold_currency, release)
    order.hold_remaining -= release
    book_fill(account, product, order.side, size, price, commission)
    return commission


def book_fill(
    account: Account, product: Product, side: Side, size: Decimal, price: Decimal, commission: Decimal
) -> None:
    """Balances (spot) or position, PnL and margin (futures) for one fill; the order's own hold is
    its caller's business. Also what a restarted paper venue replays for fills its stored account
    does not reflect yet."""
    if product.is_future:
        _settle_future(account, side, product, size, price, commission)
        return
    notional = product.notional(size, price)
    quote, base = product.quote_currency, product.base_currency
    if side is Side.BUY:
        account.credit(base, size)
        account.credit(quote, -(notional + commission))
    else:
        account.credit(base, -size)
        account.credit(quote, notional - commission)


def _hold_release(order: Order, size: Decimal, spent: Decimal) -> Decimal:
    """Share of the order's hold freed by a fill of `size` (capped by what is still held)."""
    if order.request.base_size is None:  # quote-sized: a buy spends its hold exactly, a sell holds base
        share = spent if order.side is Side.BUY else size
    else:
        share = order.hold_per_unit * size
    return min(order.hold_remaining, share)


def _settle_future(
    account: Account, side: Side, product: Product, size: Decimal, price: Decimal, commission: Decimal
) -> None:
    assert product.future is not None
    position = account.position(product.product_id)
    signed = size if side is Side.BUY else -size
    realized = position.apply(signed, price, product.contract_size)
    position.total_fees += commission
    account.credit(product.quote_currency, realized - commission)
    new_margin = product.notional(abs(position.contracts), position.avg_entry_price) * (
        product.future.margin_rate(long=position.contracts > 0)
    )
    delta = new_margin - position.margin_held
    if delta > 0:
        account.holds[product.quote_currency] = account.hold(product.quote_currency) + delta
    else:
        account.release(product.quote_currency, -delta)
    position.margin_held = new_margin
