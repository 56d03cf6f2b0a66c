"""Positions and PnL from fills: the one ledger the risk service, reconciliation and the backtester share.

Pure and deterministic: no clock, no I/O. Each (strategy, venue, product) keeps a signed quantity in
venue units and a signed cost basis; realized PnL is booked on reductions and flips, with fees
subtracted as they are paid. All arithmetic is `Decimal`.

Why a cost basis rather than an average price: averaging divides, and a rounded average would make
realized + unrealized drift from the cash actually exchanged. Only the share of the basis a partial
close removes is divided; it is rounded to a fixed 1e-16 of quote currency and that exact amount
leaves the basis, so every later sum stays exact and nothing is ever lost or created: realized +
unrealized always equals the cash-flow PnL.

Money sign conventions: `realized_pnl` is net of fees ("fees included"); `fees` is the cumulative fee
paid (already inside `realized_pnl`, reported for information). A negative fee is a rebate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import NamedTuple

import msgspec

from shared.errors import AlgopioneerError
from shared.messages.orders import Fill
from shared.messages.risk import PnlSummary, Position
from shared.money import ONE, ZERO

_BASIS_QUANTUM = Decimal("1e-16")
_WIDE = Context(prec=60, rounding=ROUND_HALF_EVEN)


class LedgerError(AlgopioneerError, ValueError):
    """A fill the ledger cannot book (non-finite or non-positive price or size, non-finite fee)."""


class PositionKey(NamedTuple):
    """What a position is kept per."""

    strategy_id: str
    venue: str
    product_id: str


class Mark(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A mark price (usually the mid) and when it was observed; risk also judges staleness on it."""

    price: Decimal
    ts_ns: int


class LedgerEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One position's books: signed quantity, signed cost basis (Σ qty × price of the open part)."""

    strategy_id: str
    venue: str
    product_id: str
    quantity: Decimal = ZERO
    """Signed, in venue units (contracts for futures): long > 0, short < 0."""
    cost: Decimal = ZERO
    """Signed cost basis of the open quantity, per contract unit (× contract size gives quote)."""
    realized: Decimal = ZERO
    """Realized PnL in quote currency, net of fees."""
    fees: Decimal = ZERO
    """Fees paid in quote currency (already inside `realized`)."""
    updated_ns: int = 0
    """Time of the latest fill booked."""


class MarkEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A mark in a snapshot."""

    venue: str
    product_id: str
    mark: Mark


class ContractSize(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A product's contract size in a snapshot."""

    venue: str
    product_id: str
    size: Decimal


class LedgerSnapshot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a ledger holds, in a canonical order, so equal ledgers give equal snapshots."""

    books: tuple[LedgerEntry, ...] = ()
    marks: tuple[MarkEntry, ...] = ()
    contract_sizes: tuple[ContractSize, ...] = ()
    trade_ids: tuple[str, ...] = ()
    """`venue:trade_id` of every fill applied: the de-duplication memory."""


_ABSURD = Decimal("1e18")


def _finite(value: Decimal) -> bool:
    """Finite and of a sane magnitude: 1e999999 would overflow the arithmetic instead of failing here."""
    return isinstance(value, Decimal) and value.is_finite() and abs(value) < _ABSURD


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


class Ledger:
    """Positions and PnL per (strategy, venue, product), fed fills and marks, read as messages.

    `contract_sizes` maps (venue, product_id) to base units per contract; products not listed are
    spot (1). Feed with `apply(fill)` (idempotent by venue and `trade_id`) and `mark(...)`; read with
    `positions()`, `position(...)`, `summary(now_ns)`; persist with `snapshot()` / `Ledger.restore()`.
    """

    def __init__(self, contract_sizes: Mapping[tuple[str, str], Decimal] | None = None) -> None:
        self._contract_sizes: dict[tuple[str, str], Decimal] = dict(contract_sizes or {})
        for key, size in self._contract_sizes.items():
            if not _finite(size) or size <= 0:
                raise LedgerError(f"contract size of {key}: must be a positive finite decimal, got {size}")
        self._books: dict[PositionKey, LedgerEntry] = {}
        self._marks: dict[tuple[str, str], Mark] = {}
        self._trade_ids: set[str] = set()

    # ---- feeding ----
    def apply(self, fill: Fill) -> bool:
        """Book one fill. Returns False (and changes nothing) when this trade was already booked."""
        trade_key = fill.dedupe_key
        if trade_key in self._trade_ids:
            return False
        if not _finite(fill.size) or fill.size <= 0:
            raise LedgerError(
                f"fill {fill.trade_id}: size must be a positive finite decimal, got {fill.size}"
            )
        if not _finite(fill.price) or fill.price <= 0:
            raise LedgerError(
                f"fill {fill.trade_id}: price must be a positive finite decimal, got {fill.price}"
            )
        if not _finite(fill.fee):
            raise LedgerError(f"fill {fill.trade_id}: fee must be finite, got {fill.fee}")
        key = PositionKey(fill.strategy_id, fill.venue, fill.product_id)
        book = self._books.get(key) or LedgerEntry(strategy_id=key[0], venue=key[1], product_id=key[2])
        self._books[key] = _book_fill(book, fill, self.contract_size(fill.venue, fill.product_id))
        self._trade_ids.add(trade_key)
        return True

    def apply_all(self, fills: Iterable[Fill]) -> int:
        """Book fills in order; returns how many were new."""
        return sum(1 for fill in fills if self.apply(fill))

    def mark(self, venue: str, product_id: str, price: Decimal, ts_ns: int) -> None:
        """Set the mark of a product; an older mark than the one held is ignored (out-of-order ticks)."""
        if not _finite(price) or price <= 0:
            raise LedgerError(f"mark of {venue}:{product_id}: must be a positive finite decimal, got {price}")
        held = self._marks.get((venue, product_id))
        if held is None or ts_ns >= held.ts_ns:
            self._marks[(venue, product_id)] = Mark(price=price, ts_ns=ts_ns)

    # ---- reading ----
    def contract_size(self, venue: str, product_id: str) -> Decimal:
        """Base units per contract of a product (1 unless configured)."""
        return self._contract_sizes.get((venue, product_id), ONE)

    def marks(self) -> dict[tuple[str, str], Mark]:
        """Every mark held, by (venue, product_id)."""
        return dict(self._marks)

    def quantities(self) -> dict[PositionKey, Decimal]:
        """Signed quantity (venue units) of every position, flat ones included."""
        return {key: book.quantity for key, book in self._books.items()}

    def position(self, strategy_id: str, venue: str, product_id: str) -> Position | None:
        """One position as a message, or None if this strategy never traded the product."""
        book = self._books.get(PositionKey(strategy_id, venue, product_id))
        return None if book is None else self._to_position(book)

    def positions(self) -> tuple[Position, ...]:
        """Every position (flat ones included: they carry realized PnL), sorted by key."""
        return tuple(self._to_position(self._books[key]) for key in sorted(self._books))

    def summary(self, now_ns: int) -> PnlSummary:
        """PnL per strategy, per product_id and for the portfolio; total = realized + unrealized."""
        positions = self.positions()
        by_strategy: dict[str, Decimal] = {}
        by_product: dict[str, Decimal] = {}
        realized = unrealized = fees = ZERO
        for p in positions:
            pnl = p.realized_pnl + p.unrealized_pnl
            by_strategy[p.strategy_id] = by_strategy.get(p.strategy_id, ZERO) + pnl
            by_product[p.product_id] = by_product.get(p.product_id, ZERO) + pnl
            realized += p.realized_pnl
            unrealized += p.unrealized_pnl
            fees += p.fees
        return PnlSummary(
            by_strategy=by_strategy,
            by_product=by_product,
            realized=realized,
            unrealized=unrealized,
            fees=fees,
            total=realized + unrealized,
            positions=positions,
            summary_ns=now_ns,
        )

    def _to_position(self, book: LedgerEntry) -> Position:
        mark = self._marks.get((book.venue, book.product_id))
        size = self.contract_size(book.venue, book.product_id)
        unrealized = ZERO if mark is None else (book.quantity * mark.price - book.cost) * size
        average = ZERO if book.quantity == 0 else book.cost / book.quantity
        return Position(
            strategy_id=book.strategy_id,
            venue=book.venue,
            product_id=book.product_id,
            quantity=book.quantity,
            average_price=average,
            realized_pnl=book.realized,
            fees=book.fees,
            unrealized_pnl=unrealized,
            mark=None if mark is None else mark.price,
            updated_ns=book.updated_ns,
        )

    # ---- persistence ----
    def snapshot(self) -> LedgerSnapshot:
        """The whole state, canonically ordered: rebuilding from the same fills gives an equal snapshot."""
        return LedgerSnapshot(
            books=tuple(self._books[key] for key in sorted(self._books)),
            marks=tuple(
                MarkEntry(venue=k[0], product_id=k[1], mark=m) for k, m in sorted(self._marks.items())
            ),
            contract_sizes=tuple(
                ContractSize(venue=k[0], product_id=k[1], size=s)
                for k, s in sorted(self._contract_sizes.items())
            ),
            trade_ids=tuple(sorted(self._trade_ids)),
        )

    @classmethod
    def restore(cls, snapshot: LedgerSnapshot) -> Ledger:
        """A ledger in exactly the state the snapshot was taken in."""
        ledger = cls({(c.venue, c.product_id): c.size for c in snapshot.contract_sizes})
        ledger._books = {PositionKey(b.strategy_id, b.venue, b.product_id): b for b in snapshot.books}
        ledger._marks = {(m.venue, m.product_id): m.mark for m in snapshot.marks}
        ledger._trade_ids = set(snapshot.trade_ids)
        return ledger


def _book_fill(book: LedgerEntry, fill: Fill, contract_size: Decimal) -> LedgerEntry:
    """The book after one fill: extend, reduce, close, or flip through zero."""
    qty, cost, realized = book.quantity, book.cost, book.realized
    delta = fill.side.sign * fill.size
    if qty == 0 or _sign(delta) == _sign(qty):
        qty, cost = qty + delta, cost + delta * fill.price
    else:
        closed = min(fill.size, abs(qty))
        removed = cost
        if closed != abs(qty):
            removed = _WIDE.divide(_WIDE.multiply(cost, closed), abs(qty)).quantize(
                _BASIS_QUANTUM, context=_WIDE
            )
        realized += (_sign(qty) * closed * fill.price - removed) * contract_size
        qty, cost = qty - _sign(qty) * closed, cost - removed
        rest = fill.size - closed
        if rest > 0:
            qty, cost = delta - _sign(delta) * closed, _sign(delta) * rest * fill.price
        elif qty == 0:
            cost = ZERO
    return msgspec.structs.replace(
        book,
        quantity=qty,
        cost=cost,
        realized=realized - fill.fee,
        fees=book.fees + fill.fee,
        updated_ns=max(book.updated_ns, fill.fill_ns),
    )
