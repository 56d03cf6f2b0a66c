"""`python -m services.execution` as a real process: paper mode end to end, clean stop, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from shared import subjects
from shared.bus import Bus
from shared.messages import BookLevel, BookUpdate, OrderStatus, ProductInfo, ServiceHeartbeat
from shared.testing import eventually, free_port

from .helpers import Recorder, make_order

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[3]


def start(env_extra: dict[str, str]) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_", "COINBASE_"))
    }
    env.update(env_extra, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "services.execution"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(ROOT),
    )


async def test_paper_mode_process_publishes_products_and_fills_orders(bus: Bus, nats_url: str) -> None:
    market = f"p{uuid.uuid4().hex[:10]}"
    venue = f"{market}-paper"  # the paper route of the market: it fills on the market's data
    proc = start(
        {
            "NATS_URL": nats_url,
            "ALGOPIONEER_EXECUTION__MODE": "paper",
            "ALGOPIONEER_VENUE__NAME": market,
            "ALGOPIONEER_HTTP__PORT": str(free_port()),
        }
    )
    try:
        products = await bus.kv(subjects.KV_PRODUCTS, ProductInfo)

        async def btc() -> ProductInfo | None:
            entry = await products.get(subjects.product_key(venue, "BTC-USD"))
            return entry.value if entry is not None else None

        info = await eventually(btc, timeout_s=20, what="catalogue in KV products")
        assert info is not None
        assert info.base_increment == Decimal("0.00000001")
        recorder = await Recorder().start(bus, venue)
        now = time.time_ns()
        book = BookUpdate(
            venue=market,
            product_id="BTC-USD",
            bids=(BookLevel(price=Decimal(99), size=Decimal(1)),),
            asks=(BookLevel(price=Decimal(100), size=Decimal(1)),),
            is_snapshot=True,
            exchange_time_ns=now,
            receive_time_ns=now,
            sequence=1,
        )
        order = make_order(venue, size=Decimal("0.01"))

        async def filled() -> bool:
            await bus.publish(subjects.book(market, "BTC-USD"), book, traced=False)  # until it has a book
            if not recorder.statuses(order.client_order_id):
                await bus.publish_durable(subjects.approved(venue), order, msg_id=order.client_order_id)
            return OrderStatus.FILLED in recorder.statuses(order.client_order_id)

        await eventually(filled, timeout_s=10, interval_s=0.2, what="paper fill")
        assert recorder.fills_of(order.client_order_id)[0].fee == Decimal("0.009")  # 0.01 · 100 · 0.9%

        beats = await bus.kv(subjects.KV_SERVICES, ServiceHeartbeat)

        async def route() -> dict[str, object] | None:
            for key in await beats.keys():
                entry = await beats.get(key)
                if entry is not None and entry.value.instance.endswith(f"-{proc.pid}"):
                    details: dict[str, object] = json.loads(entry.value.details_json)["execution"]
                    return details
            return None

        served = await eventually(route, timeout_s=10, what="the heartbeat names the route")
        assert served is not None
        assert (served["mode"], served["venue"], served["market"]) == ("paper", venue, market)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_live_mode_without_keys_is_a_clear_config_error(nats_url: str) -> None:
    proc = start(
        {
            "NATS_URL": nats_url,
            "ALGOPIONEER_EXECUTION__MODE": "live",
            "ALGOPIONEER_HTTP__PORT": str(free_port()),
        }
    )
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "COINBASE_API_KEY" in err
    assert "Traceback" not in err


def test_unknown_mode_is_a_config_error() -> None:
    proc = start({"ALGOPIONEER_EXECUTION__MODE": "sandbox"})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "mode" in err
