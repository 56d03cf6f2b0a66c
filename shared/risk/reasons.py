"""Stable reason codes for `RiskDecision.reasons`. Dashboards and alerts key on them: never rename."""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Why an intent was refused. The value is the code published on the bus."""

    KILL_SWITCH = "KILL_SWITCH"
    """Trading is halted; only risk-reducing orders pass."""
    BREAKER_OPEN = "BREAKER_OPEN"
    """The circuit breaker is open, or half-open with its one probe already out."""
    MAX_POSITION = "MAX_POSITION"
    """The product's net position would exceed its base-quantity cap."""
    MAX_POSITION_NOTIONAL = "MAX_POSITION_NOTIONAL"
    """The product's net position would exceed its notional cap."""
    MAX_STRATEGY_NOTIONAL = "MAX_STRATEGY_NOTIONAL"
    """The strategy's gross notional would exceed its cap."""
    GROSS_EXPOSURE = "GROSS_EXPOSURE"
    """The portfolio's gross exposure would exceed its cap."""
    DAILY_LOSS = "DAILY_LOSS"
    """Today's loss has reached the daily limit; only risk-reducing orders pass."""
    RATE_LIMIT = "RATE_LIMIT"
    """The venue's or the strategy's order rate bucket is empty."""
    PRICE_BAND = "PRICE_BAND"
    """The limit price is too far from the mid."""
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    """No mark for the product, or the mark is older than allowed."""
    OFF_GRID_SIZE = "OFF_GRID_SIZE"
    """The size is not a multiple of the product's base increment."""
    OFF_GRID_PRICE = "OFF_GRID_PRICE"
    """The limit price is not a multiple of the product's price increment."""
    BELOW_MIN_SIZE = "BELOW_MIN_SIZE"
    """The size or the order's value is below the product's minimum."""
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    """Risk has no metadata for the product, so it cannot judge the order."""
    INVALID_NUMBER = "INVALID_NUMBER"
    """Size or price is NaN, infinite, zero or negative, or a limit order has no price."""
    DUPLICATE_INTENT = "DUPLICATE_INTENT"
    """This client_order_id was already decided."""
