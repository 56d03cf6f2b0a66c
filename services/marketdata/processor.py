"""Frame → bus messages: decode, sequence-check, maintain books, normalize. Pure: no I/O, no clock.

Every source (live WS, replay, synthetic) feeds raw Coinbase frames through one `FeedProcessor`, so
the replayed and simulated feeds exercise exactly the code the live one does. A frame that fails to
decode or validate is counted and skipped; a skipped or gapped level2 frame also asks for a resync,
because the book it would have changed can no longer be trusted.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from services.marketdata import constants as c
from services.marketdata.book import L2Book, Level
from services.marketdata.errors import MalformedMessageError
from services.marketdata.health import FeedHealth
from services.marketdata.parse import checked, frame_time_ns, to_ticker, to_trade
from services.marketdata.schemas import (
    KNOWN_CHANNELS,
    HeartbeatFrame,
    L2Event,
    L2Frame,
    TickerFrame,
    TradesFrame,
    frame_decoder,
    probe_decoder,
)
from services.marketdata.sequence import SequenceTracker, Verdict
from shared import subjects
from shared.messages import BookLevel, BookUpdate

Outgoing = list[tuple[str, msgspec.Struct]]
_BID_SIDES = frozenset((c.SIDE_BID,))
_ASK_SIDES = frozenset((c.SIDE_OFFER, c.SIDE_ASK))
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, MalformedMessageError)


class FeedProcessor:
    """Turns raw frames of one connection into `Ticker`, `BookUpdate` and `Trade` messages."""

    def __init__(self, venue: str, products: tuple[str, ...], depth: int, health: FeedHealth) -> None:
        self.venue = venue
        self.depth = depth
        self.health = health
        self.books = {p: L2Book(p) for p in products}
        self.sequence = SequenceTracker()
        self.last_channel = ""
        self._ticker_subject = {p: subjects.ticker(venue, p) for p in products}
        self._book_subject = {p: subjects.book(venue, p) for p in products}
        self._trade_subject = {p: subjects.trade(venue, p) for p in products}
        self._last_top: dict[str, tuple[list[Level], list[Level]]] = {}
        self._resync = False

    # ---- connection lifecycle ----
    def on_connected(self) -> None:
        """A new connection: sequence numbers restart and every book waits for a fresh snapshot."""
        self.sequence.reset()
        self._invalidate_books()
        self._resync = False

    def take_resync(self) -> bool:
        """True once after a gap or a lost level2 frame: the source should resubscribe level2."""
        wanted, self._resync = self._resync, False
        return wanted

    def books_valid(self) -> bool:
        """True when every book has been rebuilt from a snapshot."""
        return all(book.valid for book in self.books.values())

    def _invalidate_books(self) -> None:
        for book in self.books.values():
            book.invalidate()
        self._last_top.clear()

    def _request_resync(self) -> None:
        self._invalidate_books()
        self._resync = True

    # ---- frames ----
    def process(self, data: bytes | str, receive_ns: int) -> Outgoing:
        """Everything to publish for one frame (possibly nothing). Never raises for bad input."""
        health = self.health
        health.messages += 1
        try:
            frame = frame_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self._classify_undecodable(data)
            return []
        health.last_message_ns = receive_ns
        verdict = self.sequence.observe(frame.sequence_num)
        if verdict is Verdict.STALE:
            return []
        if verdict is Verdict.GAP:
            health.gaps += 1
            self._request_resync()
        out: Outgoing = []
        try:
            if isinstance(frame, TickerFrame):
                self.last_channel = c.CHANNEL_TICKER
                self._tickers(frame, receive_ns, out)
            elif isinstance(frame, L2Frame):
                self.last_channel = c.ENVELOPE_L2
                self._level2(frame, receive_ns, out)
            elif isinstance(frame, TradesFrame):
                self.last_channel = c.CHANNEL_MARKET_TRADES
                self._trades(frame, receive_ns, out)
            elif isinstance(frame, HeartbeatFrame):
                self.last_channel = c.CHANNEL_HEARTBEATS
                health.last_heartbeat_ns = receive_ns
            else:
                self.last_channel = c.ENVELOPE_SUBSCRIPTIONS
        except _DECODE_ERRORS:
            health.malformed += 1
            if isinstance(frame, L2Frame):
                self._request_resync()
            return []
        return out

    def _classify_undecodable(self, data: bytes | str) -> None:
        """Unknown channels and venue errors are not malformed; everything else is."""
        health = self.health
        self.last_channel = "malformed"
        try:
            probe = probe_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            health.malformed += 1
            return
        if probe.type == "error":
            self.last_channel = "error"
            health.venue_errors += 1
            return
        if probe.sequence_num >= 0 and self.sequence.observe(probe.sequence_num) is Verdict.GAP:
            health.gaps += 1
            self._request_resync()
        if probe.channel and probe.channel not in KNOWN_CHANNELS:
            self.last_channel = "unknown"
            health.unknown += 1
            return
        health.malformed += 1
        if probe.channel == c.ENVELOPE_L2:
            self._request_resync()

    def _tickers(self, frame: TickerFrame, receive_ns: int, out: Outgoing) -> None:
        exchange_ns = frame_time_ns(frame.timestamp, receive_ns)
        subjects_ = self._ticker_subject
        for event in frame.events:
            for item in event.tickers:
                subject = subjects_.get(item.product_id)
                if subject is not None:
                    out.append(
                        (subject, to_ticker(item, self.venue, exchange_ns, receive_ns, frame.sequence_num))
                    )

    def _trades(self, frame: TradesFrame, receive_ns: int, out: Outgoing) -> None:
        subjects_ = self._trade_subject
        for event in frame.events:
            for item in event.trades:
                subject = subjects_.get(item.product_id)
                if subject is not None:
                    out.append((subject, to_trade(item, self.venue, receive_ns)))

    def _level2(self, frame: L2Frame, receive_ns: int, out: Outgoing) -> None:
        exchange_ns = frame_time_ns(frame.timestamp, receive_ns)
        for event in frame.events:
            book = self.books.get(event.product_id)
            if book is None:
                continue
            bids, asks = _split_levels(event)
            if event.type == c.EVENT_SNAPSHOT:
                book.apply_snapshot(bids, asks)
                snapshot = True
            elif event.type == c.EVENT_UPDATE and book.valid:
                for price, size in bids:
                    book.bids.set(price, size)
                for price, size in asks:
                    book.asks.set(price, size)
                snapshot = False
            else:
                continue  # an unknown event type, or updates while we wait for a fresh snapshot
            update = self._book_update(book, snapshot, exchange_ns, receive_ns, frame.sequence_num)
            if update is not None:
                out.append((self._book_subject[book.product_id], update))

    def _book_update(
        self, book: L2Book, snapshot: bool, exchange_ns: int, receive_ns: int, sequence: int
    ) -> BookUpdate | None:
        """Top-N after an event; None when an update left the top-N unchanged."""
        top = book.top(self.depth)
        if not snapshot and self._last_top.get(book.product_id) == top:
            return None
        self._last_top[book.product_id] = top
        return BookUpdate(
            venue=self.venue,
            product_id=book.product_id,
            bids=tuple(BookLevel(price=p, size=s) for p, s in top[0]),
            asks=tuple(BookLevel(price=p, size=s) for p, s in top[1]),
            is_snapshot=snapshot,
            exchange_time_ns=exchange_ns,
            receive_time_ns=receive_ns,
            sequence=sequence,
        )


def _split_levels(event: L2Event) -> tuple[list[Level], list[Level]]:
    """Validated (price, size) pairs per side; any bad level makes the whole event malformed."""
    bids: list[Level] = []
    asks: list[Level] = []
    for level in event.updates:
        price: Decimal = checked(level.price_level, "price_level")
        size: Decimal = checked(level.new_quantity, "new_quantity")
        if level.side in _BID_SIDES:
            bids.append((price, size))
        elif level.side in _ASK_SIDES:
            asks.append((price, size))
        else:
            raise MalformedMessageError(f"unknown level2 side: {level.side!r}")
    return bids, asks
