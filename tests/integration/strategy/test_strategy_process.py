"""`python -m services.strategy` as a real process: `/ready` lists what it owns; SIGTERM hands back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import nats.js.errors
import pytest

from services.strategy.specs import put_spec
from shared import subjects
from shared.messages import lease_key
from shared.messages.strategy import MaCrossoverParams, StrategySpec
from shared.testing import eventually, free_port
from tests.integration.strategy.helpers import put_product, uid

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


async def test_ready_lists_owned_instances_and_sigterm_releases_them(bus, nats_url: str) -> None:
    sid, product, worker_id, port = uid("proc"), uid("PR"), uid("wp"), free_port()
    await put_product(bus, product)
    await put_spec(bus, StrategySpec(id=sid, params=MaCrossoverParams(product_id=product)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NATS_URL=nats_url,
        ALGOPIONEER_HTTP__PORT=str(port),
        ALGOPIONEER_STRATEGY__WORKER_ID=worker_id,
        ALGOPIONEER_STRATEGY__HEARTBEAT_INTERVAL_S="0.2",
        ALGOPIONEER_STRATEGY__LEASE_TTL_S="1.0",
        ALGOPIONEER_STRATEGY__WARMUP_TIMEOUT_S="0.2",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.strategy", cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def owned() -> dict[str, Any]:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/ready") as response:
                        body: dict[str, Any] = await response.json()
                        return body["details"]["strategy"]["instances"]  # type: ignore[no-any-return]
                except (aiohttp.ClientError, KeyError):
                    return {}

            await eventually(lambda: _check(owned(), sid), timeout_s=20, what="owned in /ready")
        leases = await bus.js.key_value(subjects.KV_WORKER_LEASES)
        assert (await leases.get(lease_key(sid))).value
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        with pytest.raises(nats.js.errors.KeyNotFoundError):  # deleted on the way out
            await leases.get(lease_key(sid))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _check(owned: Any, sid: str) -> bool:
    return (await owned).get(sid) == "flat"
