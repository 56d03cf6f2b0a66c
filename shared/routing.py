"""Where an order goes: a strategy's mode picks the execution venue, the market supplies prices.

A live order goes to the market's own venue id (`coinbase`); a paper order goes to the paper venue
of that market (`coinbase-paper`), which fills on the same market data. Positions, fills, products
and fee tiers are kept per execution venue, so paper and live never share a ledger line, and one
stack can run a live strategy and its paper twin side by side on one feed.
"""

from __future__ import annotations

from typing import Literal

from shared import subjects

PAPER_SUFFIX = "-paper"
LIVE, PAPER = "live", "paper"


def execution_venue(market: str, mode: str) -> str:
    """The venue id orders of `mode` ("live" or "paper") on `market` are approved onto and filled by."""
    subjects.token(market)
    if market.endswith(PAPER_SUFFIX):
        raise ValueError(f"{market!r} is a paper venue, not a market")
    if mode not in (LIVE, PAPER):
        raise ValueError(f"mode must be {LIVE!r} or {PAPER!r}, got {mode!r}")
    return market if mode == LIVE else f"{market}{PAPER_SUFFIX}"


def market_of(venue: str) -> str:
    """The market whose data prices orders on `venue` (itself for a live venue)."""
    return venue.removesuffix(PAPER_SUFFIX)


def mode_of(venue: str) -> Literal["live", "paper"]:
    """Paper for a paper venue id, live otherwise."""
    return "paper" if venue.endswith(PAPER_SUFFIX) else "live"


def routes(markets: tuple[str, ...]) -> tuple[str, ...]:
    """Every execution venue of these markets: each market's live venue and its paper venue."""
    return tuple(execution_venue(m, mode) for m in markets for mode in (LIVE, PAPER))
