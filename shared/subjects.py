"""Every NATS subject, stream and KV bucket name. No subject literal lives anywhere else.

Order of tokens is fixed: root.kind.venue.symbol. Parameterised subjects are functions that check
their tokens, so a product id with a '.' or a wildcard can never widen a subscription by accident.
"""

from __future__ import annotations

import re

from shared.errors import InvalidSubjectTokenError

ANY = "*"
REST = ">"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def token(value: str) -> str:
    """Validate one subject token: letters, digits, '_' and '-' only (a wildcard is allowed as-is)."""
    if value in (ANY, REST) or _TOKEN.match(value):
        return value
    raise InvalidSubjectTokenError(f"not a valid subject token: {value!r}")


def _join(*parts: str) -> str:
    return ".".join(token(p) for p in parts)


# ---- market data (core NATS, fan-out, untraced per message) ----
def ticker(venue: str, product_id: str) -> str:
    """Normalized ticker of one product."""
    return _join("md", "ticker", venue, product_id)


def book(venue: str, product_id: str) -> str:
    """Top-N book of one product."""
    return _join("md", "book", venue, product_id)


def trade(venue: str, product_id: str) -> str:
    """Public trades of one product."""
    return _join("md", "trade", venue, product_id)


def feed_status(venue: str) -> str:
    """Feed health of one venue."""
    return _join("md", "status", venue)


def candles_rpc(venue: str) -> str:
    """Request/reply: candle history for warm-up and backtests."""
    return _join("md", "candles", venue)


# ---- order path (JetStream) ----
def intent(strategy_id: str) -> str:
    """A strategy's order intents."""
    return _join("orders", "intent", strategy_id)


def decision(strategy_id: str) -> str:
    """Risk decisions about one strategy's intents."""
    return _join("risk", "decision", strategy_id)


def approved(venue: str) -> str:
    """Approved orders for one venue: the execution work queue. Only risk may publish here."""
    return _join("orders", "approved", venue)


def cancel(venue: str) -> str:
    """Cancel requests for one venue's execution service."""
    return _join("orders", "cancel", venue)


def strategy_cancel(venue: str, strategy_id: str) -> str:
    """A strategy's cancels of its own resting orders. Execution takes the strategy from this
    subject (never from the payload) and never reads one as a cancel-all; the CANCELS stream
    (`orders.cancel.>`) captures it beside risk's cancels."""
    return _join("orders", "cancel", venue, strategy_id)


def order_event(venue: str, strategy_id: str) -> str:
    """Order lifecycle events."""
    return _join("orders", "event", venue, strategy_id)


def fill(venue: str, product_id: str) -> str:
    """Executions."""
    return _join("fills", venue, product_id)


# ---- strategies, risk, reconciliation ----
def signal(strategy_id: str) -> str:
    """Non-hold signals of one strategy instance."""
    return _join("strategy", "signal", strategy_id)


def strategy_status(strategy_id: str) -> str:
    """Status of one strategy instance."""
    return _join("strategy", "status", strategy_id)


def strategy_control(strategy_id: str) -> str:
    """Commands to one strategy instance (stop, resolve after reconciliation)."""
    return _join("strategy", "control", strategy_id)


RISK_STATE = "risk.state"
RISK_PNL = "risk.pnl"
RISK_CONTROL = "risk.control"
RISK_LIMITS_CHANGED = "risk.limits"


def recon_report(venue: str) -> str:
    """Reconciliation reports of one venue."""
    return _join("recon", "report", venue)


# ---- JetStream streams: name → subjects they capture ----
STREAM_INTENTS = "INTENTS"
STREAM_DECISIONS = "DECISIONS"
STREAM_APPROVED = "APPROVED"
STREAM_CANCELS = "CANCELS"
STREAM_ORDER_EVENTS = "ORDER_EVENTS"
STREAM_FILLS = "FILLS"
STREAM_RECON = "RECON"
STREAM_STATUS = "STRATEGY_STATUS"
"""The latest `StrategyStatus` of each instance (one message per subject): a restarted reader knows
every instance at once instead of waiting for the next periodic status."""

STREAM_SUBJECTS: dict[str, list[str]] = {
    STREAM_INTENTS: [intent(REST)],
    STREAM_DECISIONS: [decision(REST)],
    STREAM_APPROVED: [approved(REST)],
    STREAM_CANCELS: [cancel(REST)],
    STREAM_ORDER_EVENTS: [_join("orders", "event", REST)],
    STREAM_FILLS: [_join("fills", REST)],
    STREAM_RECON: [recon_report(REST)],
    STREAM_STATUS: [strategy_status(REST)],
}

# ---- KV buckets ----
KV_POSITIONS = "positions"
KV_RISK_STATE = "risk_state"
KV_RISK_LIMITS = "risk_limits"
KV_STRATEGY_SPECS = "strategy_specs"
KV_STRATEGY_SNAPSHOTS = "strategy_snapshots"
KV_WORKER_LEASES = "worker_leases"
KV_EXEC_STATE = "exec_state"
KV_PAPER_ACCOUNT = "paper_account"
KV_SERVICES = "services"
KV_PRODUCTS = "products"
KV_FEE_RATES = "fee_rates"
"""The account's fee tier per venue (`shared.messages.FeeRates`, key: the venue), written by
execution from `GET /transaction_summary`; read by strategies to price their trades."""
"""Trading rules per product (`shared.messages.ProductInfo`), key `<venue>.<product_id>`,
written by the execution service from its venue at start; read by risk and strategy."""
KV_STRATEGY_CODE = "strategy_code"
"""Plug-in strategy sources (`shared.messages.strategy.StrategyCode`), key: the source's sha256; written by
the CLI when it starts a strategy from a file, read by strategy workers."""

KV_BUCKETS = (
    KV_POSITIONS,
    KV_RISK_STATE,
    KV_RISK_LIMITS,
    KV_STRATEGY_SPECS,
    KV_STRATEGY_SNAPSHOTS,
    KV_WORKER_LEASES,
    KV_EXEC_STATE,
    KV_PAPER_ACCOUNT,
    KV_SERVICES,
    KV_PRODUCTS,
    KV_FEE_RATES,
    KV_STRATEGY_CODE,
)


def product_key(venue: str, product_id: str) -> str:
    """KV key of one product in the `products` bucket."""
    return f"{token(venue)}.{token(product_id)}"
