"""Reconciliation: what the ledger and the venue disagreed on, and what was done about it."""

from __future__ import annotations

from decimal import Decimal

from shared.messages.base import Message


class ReconFinding(Message, frozen=True, kw_only=True):
    """One difference between ledger and venue."""

    kind: str
    product_id: str = ""
    strategy_id: str = ""
    ledger_quantity: Decimal | None = None
    venue_quantity: Decimal | None = None
    detail: str = ""


class ReconReport(Message, frozen=True, kw_only=True):
    """Published after every reconciliation cycle."""

    venue: str
    cycle: int
    compared: dict[str, int]
    findings: tuple[ReconFinding, ...] = ()
    actions: tuple[str, ...] = ()
    report_ns: int
