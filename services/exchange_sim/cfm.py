"""CFM (US futures) figures shared by REST (`{value, currency}` objects) and WS (plain strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.exchange_sim.render import fmt
from services.exchange_sim.state import SimState
from shared.money import ZERO
from shared.venue import Position

MONEY_FIELDS = (
    "futures_buying_power",
    "total_usd_balance",
    "cbi_usd_balance",
    "cfm_usd_balance",
    "total_open_orders_hold_amount",
    "unrealized_pnl",
    "daily_realized_pnl",
    "initial_margin",
    "available_margin",
    "liquidation_threshold",
    "liquidation_buffer_amount",
)


def open_positions(state: SimState) -> list[Position]:
    """Non-flat futures positions of the key's account."""
    acct = state.venue.account(state.account_id)
    return [p for p in acct.positions.values() if p.contracts != ZERO]


def mark(state: SimState, product_id: str) -> Decimal:
    """Mark price: book mid, else last trade."""
    venue = state.venue
    return venue.books[product_id].mid() or venue.last_price.get(product_id, ZERO)


def unrealized(state: SimState, pos: Position) -> Decimal:
    """Unrealized PnL of a position at the mark, in USD."""
    size = state.venue.products[pos.product_id].contract_size
    return (mark(state, pos.product_id) - pos.avg_entry_price) * pos.contracts * size


def position_json(state: SimState, pos: Position) -> dict[str, Any]:
    """A `/cfm/positions` entry (plain-string variant of the docs)."""
    product = state.venue.products[pos.product_id]
    assert product.future is not None
    return {
        "product_id": pos.product_id,
        "expiration_time": product.future.contract_expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "side": "LONG" if pos.contracts > 0 else "SHORT",
        "number_of_contracts": fmt(abs(pos.contracts)),
        "current_price": fmt(mark(state, pos.product_id)),
        "avg_entry_price": fmt(pos.avg_entry_price),
        "unrealized_pnl": fmt(unrealized(state, pos)),
        "daily_realized_pnl": fmt(pos.realized_pnl),
    }


def summary(state: SimState) -> dict[str, Decimal]:
    """Balance-summary figures. CBI and CFM share one USD wallet here; margin counts as CFM."""
    acct = state.venue.account(state.account_id)
    positions = open_positions(state)
    margin = sum((p.margin_held for p in positions), ZERO)
    pnl = sum((unrealized(state, p) for p in positions), ZERO)
    usd, available = acct.balance("USD"), acct.available("USD")
    return {
        "futures_buying_power": available,
        "total_usd_balance": usd,
        "cbi_usd_balance": usd - margin,
        "cfm_usd_balance": margin,
        "total_open_orders_hold_amount": acct.hold("USD") - margin,
        "unrealized_pnl": pnl,
        "daily_realized_pnl": sum((p.realized_pnl for p in acct.positions.values()), ZERO),
        "initial_margin": margin,
        "available_margin": available + pnl,
        "liquidation_threshold": margin / 2,
        "liquidation_buffer_amount": available + pnl,
    }


def windows(figures: dict[str, Decimal]) -> dict[str, dict[str, str]]:
    """Intraday and overnight margin-window objects (the simulator uses one margin level)."""
    base = {
        "margin_level": "MARGIN_LEVEL_TYPE_BASE",
        "initial_margin": fmt(figures["initial_margin"]),
        "maintenance_margin": fmt(figures["liquidation_threshold"]),
        "liquidation_buffer": "0",
        "total_hold": fmt(figures["total_open_orders_hold_amount"]),
        "futures_buying_power": fmt(figures["futures_buying_power"]),
    }
    return {
        "intraday_margin_window_measure": {"margin_window_type": "FCM_MARGIN_WINDOW_TYPE_INTRADAY", **base},
        "overnight_margin_window_measure": {"margin_window_type": "FCM_MARGIN_WINDOW_TYPE_OVERNIGHT", **base},
    }


def ws_summary(state: SimState) -> dict[str, Any]:
    """The WS `fcm_balance_summary` object: same figures as plain strings."""
    figures = summary(state)
    return {
        **{k: fmt(v) for k, v in figures.items()},
        "liquidation_buffer_percentage": "0",
        **windows(figures),
    }
