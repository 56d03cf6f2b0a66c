"""Messages as the bus carries them, for the notification tests."""

from __future__ import annotations

from decimal import Decimal

from shared.messages import Fill, Liquidity, ReconFinding, ReconReport, RiskState, ServiceHeartbeat, Side

T0 = 1_800_000_000 * 1_000_000_000
"""2027-01-15 08:00:00 UTC, in ns."""
S = 1_000_000_000


def fill(n: int = 1, *, venue: str = "coinbase-paper", strategy: str = "ma-btc") -> Fill:
    return Fill(
        trade_id=f"t{n}",
        client_order_id=f"c{n}",
        strategy_id=strategy,
        venue=venue,
        product_id="BTC-USD",
        side=Side.BUY,
        price=Decimal("100000.00"),
        size=Decimal("0.001"),
        fee=Decimal("0.90"),
        liquidity=Liquidity.TAKER,
        fill_ns=T0,
    )


def risk(**fields: object) -> RiskState:
    return RiskState(updated_ns=T0, **fields)  # type: ignore[arg-type]


def report(*findings: ReconFinding, venue: str = "coinbase-paper") -> ReconReport:
    return ReconReport(venue=venue, cycle=1, compared={"orders": 1}, findings=findings, report_ns=T0)


def finding(kind: str, *, product: str = "BTC-USD", strategy: str = "s1", detail: str = "") -> ReconFinding:
    return ReconFinding(kind=kind, product_id=product, strategy_id=strategy, detail=detail)


def beat(service: str, *, ready: bool, at: int, instance: str = "host-1") -> ServiceHeartbeat:
    checks = {"nats": True, "feed": ready}
    return ServiceHeartbeat(
        service=service, instance=instance, ready=ready, checks=checks, started_ns=T0, updated_ns=at
    )
