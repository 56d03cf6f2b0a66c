"""Prometheus metrics of the reconciliation service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FINDINGS = Counter("recon_findings_total", "Differences found between ledger and venue, by kind", ["kind"])
ACTIONS = Counter("recon_actions_total", "Repairs and policy actions carried out, by action", ["action"])
CYCLE_SECONDS = Histogram(
    "recon_cycle_seconds",
    "Duration of one reconciliation cycle (venue reads included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LAST_CYCLE = Gauge("recon_last_cycle_timestamp", "Unix time of the last completed cycle")
SKIPPED = Counter("recon_cycles_skipped_total", "Cycles that could not compare, by reason", ["reason"])
NAKED_SECONDS = Histogram(
    "recon_naked_leg_seconds",
    "How long each naked leg of a dual-leg instance lasted, from the fill that made it naked to the "
    "check that found it hedged again (running instances included)",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0),
)
NAKED_MAX = Gauge("recon_naked_leg_max_seconds", "The longest naked-leg age seen since start (open or ended)")
NAKED_OPEN = Gauge("recon_naked_legs_open", "Dual-leg instances with a naked leg now")
