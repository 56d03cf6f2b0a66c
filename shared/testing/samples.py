"""One realistic instance of every bus message, for round-trip and compatibility tests."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec

from shared import messages as m
from shared.sdk.loader import source_sha

NS = 1_764_000_000_000_000_000
PLUGIN_SOURCE = """from shared.sdk import TwoLegStrategy\n\n\nclass Spread(TwoLegStrategy):\n    ...\n"""
"""A strategy file's source as KV `strategy_code` stores it (not a working strategy)."""


def every_message() -> list[msgspec.Struct]:
    """Every contract with awkward Decimals (many digits, negative zero-free, tiny increments)."""
    intent = m.OrderIntent(
        client_order_id=m.client_order_id("pairs-eth-btc", 7, 1),
        strategy_id="pairs-eth-btc",
        intent_seq=7,
        leg=1,
        venue="coinbase",
        product_id="ETH-USD",
        side=m.Side.BUY,
        order_type=m.OrderType.LIMIT,
        size=D("0.12345678"),
        limit_price=D("3456.78"),
        time_in_force=m.TimeInForce.IOC,
        purpose=m.Purpose.ENTRY,
        reference_price=D("3456.775"),
        created_ns=NS,
        expires_ns=NS + 5_000_000_000,
        reason="z=-2.31",
    )
    position = m.Position(
        strategy_id="basis-btc",
        venue="coinbase",
        product_id="BIT-26DEC26-CDE",
        quantity=D("-3"),
        average_price=D("97005"),
        realized_pnl=D("-1.234567890123456789"),
        fees=D("0.0291"),
        unrealized_pnl=D("12.5"),
        mark=D("96990"),
        updated_ns=NS,
    )
    return [
        m.Ticker(
            venue="coinbase",
            product_id="BTC-USD",
            bid=D("97000.01"),
            ask=D("97000.02"),
            bid_size=D("0.00000001"),
            ask_size=D("12.5"),
            last=D("97000.015"),
            exchange_time_ns=NS,
            receive_time_ns=NS + 1,
            sequence=42,
        ),
        m.BookUpdate(
            venue="coinbase",
            product_id="BTC-USD",
            bids=(m.BookLevel(price=D("97000.01"), size=D("1.5")),),
            asks=(
                m.BookLevel(price=D("97000.02"), size=D("0.1")),
                m.BookLevel(price=D("97001"), size=D("3")),
            ),
            is_snapshot=True,
            exchange_time_ns=NS,
            receive_time_ns=NS,
            sequence=1,
        ),
        m.Trade(
            venue="coinbase",
            product_id="ETH-USD",
            trade_id="t-1",
            price=D("3456.78"),
            size=D("0.5"),
            side=m.Side.SELL,
            exchange_time_ns=NS,
            receive_time_ns=NS,
        ),
        m.Candle(
            venue="coinbase",
            product_id="BTC-USD",
            start=1_764_000_000,
            granularity_s=60,
            open=D("1"),
            high=D("2"),
            low=D("0.5"),
            close=D("1.5"),
            volume=D("100.00000001"),
        ),
        m.CandleRequest(venue="coinbase", product_id="BTC-USD", start=1, end=2),
        m.FeedStatus(
            venue="coinbase",
            connected=True,
            stale=False,
            products=("BTC-USD",),
            gaps=1,
            reconnects=2,
            malformed=3,
            last_message_ns=NS,
            time_ns=NS,
        ),
        m.Signal(strategy_id="ma-btc", action=m.SignalAction.BUY, value=1.5, signal_ns=NS),
        intent,
        m.RiskDecision(
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            approved=False,
            reasons=("PRICE_BAND", "RATE_LIMIT"),
            decided_ns=NS,
        ),
        m.Order.from_intent(intent, NS + 5, expires_ns=intent.expires_ns, epoch=3),
        m.CancelRequest(venue="coinbase", strategy_id="ma-btc", requested_ns=NS, epoch=4),
        m.OrderEvent(
            client_order_id=intent.client_order_id,
            venue_order_id="v-1",
            strategy_id=intent.strategy_id,
            venue="coinbase",
            product_id="ETH-USD",
            side=m.Side.BUY,
            status=m.OrderStatus.PARTIALLY_FILLED,
            size=D("0.12345678"),
            filled_size=D("0.1"),
            average_price=D("3456.7"),
            event_ns=NS,
        ),
        m.Fill(
            trade_id="f-1",
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            venue="coinbase",
            product_id="ETH-USD",
            side=m.Side.BUY,
            price=D("3456.7"),
            size=D("0.1"),
            fee=D("3.111030"),
            liquidity=m.Liquidity.TAKER,
            fill_ns=NS,
        ),
        position,
        m.StrategySpec(id="pairs-eth-btc", params=m.PairsParams(leg1_id="ETH-USD", leg2_id="BTC-USD")),
        m.StrategySpec(
            id="spread-eth-btc",
            params=m.PluginParams(
                strategy="strategies/spread.py:Spread",
                code=source_sha(PLUGIN_SOURCE),
                products=("ETH-USD", "BTC-USD"),
                values={"notional": "250.00", "window": 30, "legs": ["ETH-USD", "BTC-USD"], "fast": True},
                max_unhedged_ms=2_500,
            ),
            venue="coinbase",
        ),
        m.StrategyCode(source=PLUGIN_SOURCE, filename="strategies/spread.py"),
        m.StrategyStatus(
            strategy_id="ma-btc",
            kind="ma_crossover",
            worker_id="w-1",
            state="InPosition",
            position=(("BTC-USD", D("0.001")),),
            status_ns=NS,
        ),
        m.RiskState(
            kill_switch=True, kill_reason="daily loss", daily_pnl=D("-500.01"), epoch=4, updated_ns=NS
        ),
        m.PnlSummary(
            by_strategy={"basis-btc": D("11.27")},
            by_product={"BIT-26DEC26-CDE": D("11.27")},
            realized=D("-1.23"),
            unrealized=D("12.5"),
            fees=D("0.0291"),
            total=D("11.27"),
            positions=(position,),
            summary_ns=NS,
        ),
        m.ReconReport(
            venue="coinbase",
            cycle=3,
            compared={"positions": 2, "open_orders": 1},
            findings=(m.ReconFinding(kind="missing_fill", product_id="BTC-USD", detail="t-9"),),
            actions=("published fill t-9",),
            report_ns=NS,
        ),
        m.ControlCommand(action=m.ControlAction.HALT, reason="test", requested_ns=NS),
        m.ServiceHeartbeat(
            service="risk",
            instance="host-1",
            ready=True,
            checks={"nats": True},
            details_json='{"breaker": "closed"}',
            http_port=8083,
            started_ns=NS,
            updated_ns=NS,
        ),
        m.ControlReply(ok=True),
        approved_decision(intent),
    ]


def approved_decision(intent: m.OrderIntent) -> m.RiskDecision:
    """An approval, carrying the exact order it sent."""
    order = m.Order.from_intent(intent, NS + 5, expires_ns=intent.expires_ns, epoch=3)
    return m.RiskDecision(
        client_order_id=intent.client_order_id,
        strategy_id=intent.strategy_id,
        approved=True,
        decided_ns=NS + 5,
        order=order,
    )
