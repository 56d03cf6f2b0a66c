"""Prometheus metrics of the risk service, named as the contract and the dashboard expect."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.messages.risk import BreakerState, PnlSummary

PNL_TOTAL = Gauge(
    "risk_pnl_total",
    "PnL in quote currency, realized + unrealized, fees included",
    ["scope"],  # portfolio | strategy:<id>
)
POSITION = Gauge("risk_position", "Signed position in venue units", ["strategy", "product"])
BREAKER_STATE = Gauge("risk_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open")
KILL_SWITCH = Gauge("risk_kill_switch", "1 while trading is halted (manual or daily loss), else 0")
DECISIONS = Counter("risk_decisions_total", "Pre-trade decisions", ["approved", "reason"])
DECISION_SECONDS = Histogram(
    "risk_decision_seconds",
    "Intent received to decision (and order) published",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
BREAKER_OUTCOMES = Counter("risk_breaker_outcomes_total", "Execution outcomes fed to the breaker", ["ok"])

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def decided(approved: bool, reasons: tuple[str, ...]) -> None:
    """Count one decision; a refusal is labelled with its first (primary) reason code."""
    DECISIONS.labels("true" if approved else "false", reasons[0] if reasons else "").inc()


def set_state(breaker: BreakerState, kill_switch: bool) -> None:
    """Breaker and kill switch gauges."""
    BREAKER_STATE.set(_BREAKER_VALUE[breaker])
    KILL_SWITCH.set(1 if kill_switch else 0)


def set_pnl(summary: PnlSummary) -> None:
    """Portfolio and per-strategy PnL, and every position's size."""
    PNL_TOTAL.labels("portfolio").set(float(summary.total))
    for strategy, pnl in summary.by_strategy.items():
        PNL_TOTAL.labels(f"strategy:{strategy}").set(float(pnl))
    for p in summary.positions:
        POSITION.labels(p.strategy_id, p.product_id).set(float(p.quantity))
