"""The one check every consumer of tickers applies before trusting a quote.

The market-data service never publishes a bad quote (it rejects NaN, infinities and negative numbers
at the venue edge), but a bus is open to every publisher: a bad tick from anywhere must be refused
with a logged reason and a metric, and must never reach a mark, a bar or a signal.
"""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from shared.messages.market import Ticker

BAD_TICKS = Counter("bus_bad_ticks_total", "Tickers refused because their prices cannot be used", ["reason"])
_log = structlog.get_logger("quotes")


def quote_problem(ticker: Ticker) -> str | None:
    """Why this ticker's prices cannot be used (`not_finite`, `not_positive`, `crossed`), or None."""
    bid, ask = ticker.bid, ticker.ask
    if not (bid.is_finite() and ask.is_finite() and ticker.last.is_finite()):  # every tick: no generator
        return "not_finite"
    if bid <= 0 or ask <= 0:
        return "not_positive"
    if bid > ask:
        return "crossed"
    return None


def usable(ticker: Ticker) -> bool:
    """True for a usable quote; otherwise log and count why, and return False."""
    problem = quote_problem(ticker)
    if problem is None:
        return True
    BAD_TICKS.labels(problem).inc()
    _log.warning(
        "bad_tick_refused",
        reason=problem,
        venue=ticker.venue,
        product_id=ticker.product_id,
        bid=str(ticker.bid),
        ask=str(ticker.ask),
    )
    return False
