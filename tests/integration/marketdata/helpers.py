"""Helpers shared by the market-data integration tests: comparing books, collecting bus messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

import msgspec

from services.exchange_sim import ExchangeSim
from services.marketdata.service import MarketDataService
from shared.bus import Bus
from shared.messages import Side

T = TypeVar("T", bound=msgspec.Struct)


def sim_book(sim: ExchangeSim, product_id: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    """The simulator's aggregated book (every level) as price → size per side."""
    book = sim.venue.books[product_id]
    return dict(book.levels(Side.BUY)), dict(book.levels(Side.SELL))


def our_book(
    service: MarketDataService, product_id: str
) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    """The service's book of `product_id` as price → size per side."""
    book = service.processor.books[product_id]
    return dict(book.bids.sizes), dict(book.asks.sizes)


def same_book(service: MarketDataService, sim: ExchangeSim, product_id: str) -> bool:
    """True when our book is valid and level-for-level equal to the simulator's."""
    return service.processor.books[product_id].valid and our_book(service, product_id) == sim_book(
        sim, product_id
    )


class Collector(Generic[T]):
    """Every message of one type seen on a subject (subscribe with `start`)."""

    def __init__(self) -> None:
        self.items: list[T] = []

    async def start(self, bus: Bus, subject: str, message_type: type[T]) -> Collector[T]:
        async def keep(message: T) -> None:
            self.items.append(message)

        await bus.subscribe(subject, message_type, keep, traced=False)
        return self

    def __len__(self) -> int:
        return len(self.items)
