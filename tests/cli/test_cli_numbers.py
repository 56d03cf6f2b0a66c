"""Money in `positions`, `status` and the live view is rounded for people (cents for USD, sizes and
prices on the product's grid from KV `products`); their JSON keeps exact decimals, never `0E-8`."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from services.cli.figures import Figures
from services.cli.main import app
from services.cli.view import StackView
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import Fill, Liquidity, PnlSummary, Position, ProductInfo, RiskState, Side

pytestmark = pytest.mark.integration

EXPONENT = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
"""A number in exponent notation (a whole string: ids such as `held-30c44e67` are not numbers)."""


def row(*cells: str) -> re.Pattern[str]:
    """A table row holding `cells` in order, between rich's column rules."""
    return re.compile(r"[\s│]+".join(re.escape(c) for c in cells) + r"[\s│]")


ETH = ProductInfo(
    venue="coinbase",
    product_id="ETH-USD",
    base_increment=Decimal("0.00000001"),
    price_increment=Decimal("0.01"),
)
FUTURE = ProductInfo(
    venue="coinbase",
    product_id="BIP-20DEC30-CDE",
    base_increment=Decimal(1),
    price_increment=Decimal(5),
    is_future=True,
)


def _position(strategy_id: str, product: ProductInfo, quantity: str, average: str, realized: str) -> Position:
    return Position(
        strategy_id=strategy_id,
        venue=product.venue,
        product_id=product.product_id,
        quantity=Decimal(quantity),
        average_price=Decimal(average),
        realized_pnl=Decimal(realized),
        unrealized_pnl=Decimal("12.3456"),
        fees=Decimal("0.004999"),
        updated_ns=1,
    )


def _strings(tree: Any) -> list[str]:
    if isinstance(tree, dict):
        return [s for v in tree.values() for s in _strings(v)]
    if isinstance(tree, list):
        return [s for v in tree for s in _strings(v)]
    return [tree] if isinstance(tree, str) else []


def test_positions_round_for_people_and_keep_exact_json(
    nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NATS_URL", nats_url)
    monkeypatch.setenv("COLUMNS", "240")  # rich lays the table out on the terminal's width
    flat, held = f"flat-{uuid.uuid4().hex[:8]}", f"held-{uuid.uuid4().hex[:8]}"
    positions = [
        _position(flat, ETH, "0E-8", "2000.123456", "-169.3241910719745"),
        _position(held, FUTURE, "3", "101237.5", "0E-8"),
    ]

    async def seed(delete: bool = False) -> None:
        bus = await Bus.connect(NatsSettings(url=nats_url), service="test")
        await streams.provision(bus.js)
        products = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)
        kv = await bus.kv(subjects.KV_POSITIONS, Position)
        for p in positions:
            key = f"{p.strategy_id}.{p.product_id}"
            await (kv.delete(key) if delete else kv.put(key, p))
        if not delete:
            for product in (ETH, FUTURE):
                await products.put(subjects.product_key(product.venue, product.product_id), product)
        await bus.close()

    asyncio.run(seed())
    try:
        as_json = CliRunner().invoke(app, ["positions", "--json"])
        table = CliRunner().invoke(app, ["positions"])
    finally:
        asyncio.run(seed(delete=True))
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    by_id = {s["id"]: s for s in report["strategies"]}
    assert by_id[flat]["positions"] == [
        {"product_id": "ETH-USD", "size": "0.00000000", "avg_price": "2000.123456"}
    ]
    assert by_id[flat]["realized_pnl"] == "-169.3241910719745"  # JSON: every digit
    assert by_id[held]["realized_pnl"] == "0.00000000"
    assert not [s for s in _strings(report) if EXPONENT.search(s)]

    assert table.exit_code == 0, table.output
    flat_row = next(line for line in table.output.splitlines() if flat in line)
    assert row("ETH-USD", "0.00000000", "2000.12", "0", "-169.32", "12.35", "0.00").search(flat_row), flat_row
    held_row = next(line for line in table.output.splitlines() if held in line)
    assert row("BIP-20DEC30-CDE", "3", "101240", "0", "0.00", "12.35", "0.00").search(held_row), held_row
    assert "169.3241" not in table.output


def test_the_view_rounds_money_and_its_json_has_no_exponent() -> None:
    view = StackView()
    view.figures = Figures([ETH])
    position = _position("s1", ETH, "0.12345678", "2000.123456", "-169.3241910719745")
    view.pnl = PnlSummary(
        by_strategy={"s1": Decimal("-169.3241910719745")},
        by_product={"ETH-USD": Decimal("0E-8")},
        realized=Decimal("-169.3241910719745"),
        unrealized=Decimal("12.3456"),
        fees=Decimal("0.004999"),
        total=Decimal("-156.98"),
        positions=(position,),
        summary_ns=1,
    )
    view.risk = RiskState(
        daily_pnl=Decimal("-169.3241910719745"), gross_exposure=Decimal("0E-8"), updated_ns=1
    )
    view.fills.append(
        Fill(
            trade_id="t1",
            client_order_id="c1",
            strategy_id="s1",
            venue="coinbase",
            product_id="ETH-USD",
            side=Side.BUY,
            size=Decimal("0.123456789"),
            price=Decimal("2000.005"),
            fee=Decimal("0.0012345"),
            liquidity=Liquidity.TAKER,
            fill_ns=1,
        )
    )
    console = Console(record=True, width=240)
    console.print(view.render())
    text = console.export_text()
    assert "daily PnL: -169.32   gross exposure: 0.00" in text
    assert "portfolio PnL: -156.98 (realized -169.32, unrealized 12.35, fees 0.00)" in text
    assert row("s1", "ETH-USD", "0.12345678", "2000.12", "-169.32", "12.35", "0.00").search(text), text
    assert row("s1", "ETH-USD", "BUY", "0.12345679", "2000.01", "0.00").search(text), text
    body = view.to_json()
    strings = _strings(json.loads(json.dumps(body)))
    assert not [s for s in strings if EXPONENT.search(s)]
    assert body["pnl"]["by_product"] == {"ETH-USD": "0.00000000"}
    assert body["risk"]["daily_pnl"] == "-169.3241910719745"
    assert body["recent_fills"][0]["size"] == "0.123456789"
