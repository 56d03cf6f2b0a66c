"""The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven
through selenium): a secured nats-server, `python -m services.risk` and `python -m services.console`
as processes, each as its own NATS user, and real messages from the test (a fill, a mark, an order
event carrying a W3C trace). The page loads without JavaScript errors, shows risk's own numbers,
refuses a halt without a login, and halts after one. It takes a screenshot: to docs/console.png (the
README's) when `ALGOPIONEER_SCREENSHOT=docs/console.png` asks for it, else beside its own files, so
a test run never changes the repository.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from services.console.auth import hash_password
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings
from shared.messages import (
    Fill,
    Liquidity,
    MaCrossoverParams,
    OrderEvent,
    OrderStatus,
    PnlSummary,
    RiskState,
    Side,
    StrategySpec,
    Ticker,
)
from shared.nats import auth
from shared.natsserver import NatsServer
from shared.testing import eventually, free_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "shared" / "nats" / "permissions.conf"
SCREENSHOT_ENV = "ALGOPIONEER_SCREENSHOT"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "browser-test-password"
SID, PRODUCT, VENUE = "ma-btc", "BTC-USD", "coinbase-paper"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
D = Decimal


def _need_browser() -> None:
    """No silent skip: without the browser the test fails and says how to get it."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists() and not shutil.which(p)]
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: run `make browser-deps` (apt-get install chromium chromium-driver)"
        )


def _spawn(module: str, user: str, url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ALGOPIONEER_", "NATS_URL", "OTEL_"))}
    base |= {
        "NATS_URL": url,
        "ALGOPIONEER_NATS__USER": user,
        "ALGOPIONEER_NATS__PASSWORD": auth.local_password(user),
        "ALGOPIONEER_HTTP__PORT": str(free_port()),
        "PYTHONPATH": str(ROOT),
    } | env
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=base, cwd=ROOT, stdout=out, stderr=out)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    nats = NatsServer(tmp_path / "nats", config_file=str(CONFIG))
    nats.start()
    yield nats
    nats.stop()


@pytest.fixture
async def admin(server: NatsServer) -> AsyncIterator[Bus]:
    """The test's bus; the streams are provisioned by risk's user first, as the stack does."""
    risk = await Bus.connect(
        NatsSettings(url=server.url, user="risk", password=auth.local_password("risk")), service="test"
    )
    await streams.provision(risk.js)
    await risk.close()
    bus = await Bus.connect(
        NatsSettings(url=server.url, user="admin", password=auth.local_password("admin")), service="test"
    )
    yield bus
    await bus.close()


@pytest.fixture
def driver() -> Iterator[webdriver.Chrome]:
    _need_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(CHROMIUM) or CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1200"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(
        service=ChromeService(shutil.which(CHROMEDRIVER) or CHROMEDRIVER), options=options
    )
    yield chrome
    chrome.quit()


async def _ready(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def _trade(bus: Bus) -> None:
    """What a strategy, marketdata and execution would have published: a spec, a mark, an order
    event and its fill, both in the trace `TRACE_ID`."""
    specs = await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
    await specs.put(SID, StrategySpec(id=SID, params=MaCrossoverParams(product_id=PRODUCT)))
    now = time.time_ns()
    headers = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
    event = OrderEvent(
        client_order_id="ma-btc-1-0",
        strategy_id=SID,
        venue=VENUE,
        product_id=PRODUCT,
        side=Side.BUY,
        status=OrderStatus.FILLED,
        size=D("0.01"),
        filled_size=D("0.01"),
        average_price=D("100000"),
        event_ns=now,
    )
    await bus.publish(subjects.order_event(VENUE, SID), event, headers=headers)
    fill = Fill(
        trade_id="t-1",
        client_order_id="ma-btc-1-0",
        strategy_id=SID,
        venue=VENUE,
        product_id=PRODUCT,
        side=Side.BUY,
        price=D("100000"),
        size=D("0.01"),
        fee=D("9.00"),
        liquidity=Liquidity.TAKER,
        fill_ns=now,
    )
    await bus.publish(subjects.fill(VENUE, PRODUCT), fill, headers=headers)


async def _tick(bus: Bus, mid: str) -> None:
    now = time.time_ns()
    price = D(mid)
    tick = Ticker(
        venue="coinbase",
        product_id=PRODUCT,
        bid=price - D("0.5"),
        ask=price + D("0.5"),
        bid_size=D(1),
        ask_size=D(1),
        last=price,
        exchange_time_ns=now,
        receive_time_ns=now,
        sequence=1,
    )
    await bus.publish(subjects.ticker("coinbase", PRODUCT), tick, traced=False)


def _text(chrome: webdriver.Chrome, css: str) -> str:
    return str(_live(chrome, lambda c: c.find_element(By.CSS_SELECTOR, css).text))


def _wait_text(chrome: webdriver.Chrome, css: str, want: str, timeout: float = 20) -> None:
    WebDriverWait(chrome, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda c: want in str(c.find_element(By.CSS_SELECTOR, css).text), f"{want!r} in {css}"
    )


def _live(chrome: webdriver.Chrome, act: Callable[[webdriver.Chrome], Any]) -> Any:
    """Run `act` again when the page re-rendered the element under it (live updates redraw the
    tables twice a second, so an element found a moment ago may be gone)."""
    result: list[Any] = []

    def attempt(c: webdriver.Chrome) -> bool:
        result.append(act(c))
        return True

    WebDriverWait(chrome, 10, ignored_exceptions=(StaleElementReferenceException,)).until(attempt)
    return result[-1]


def _click(chrome: webdriver.Chrome, by: str, what: str) -> None:
    _live(chrome, lambda c: c.find_element(by, what).click())


def _js_errors(chrome: webdriver.Chrome) -> list[dict[str, Any]]:
    """Errors in the page's console, except the 401 and 409 answers the test asks for."""
    return [
        e
        for e in chrome.get_log("browser")  # type: ignore[no-untyped-call]
        if e["level"] == "SEVERE"
        and "status of 401" not in e["message"]
        and "status of 409" not in e["message"]
    ]


async def _risk_state(bus: Bus) -> RiskState | None:
    kv = await bus.kv(subjects.KV_RISK_STATE, RiskState)
    entry = await kv.get("state")
    return entry.value if entry else None


async def test_console_in_a_real_browser(
    server: NatsServer, admin: Bus, driver: webdriver.Chrome, tmp_path: Path
) -> None:
    page_port = free_port()
    risk = _spawn(
        "services.risk", "risk", server.url, tmp_path / "risk.log", ALGOPIONEER_RISK__TICK_INTERVAL_S="0.2"
    )
    console = _spawn(
        "services.console",
        "console",
        server.url,
        tmp_path / "console.log",
        ALGOPIONEER_CONSOLE__PORT=str(page_port),
        ALGOPIONEER_CONSOLE__PASSWORD_HASH=hash_password(PASSWORD),
        ALGOPIONEER_CONSOLE__PUSH_INTERVAL_S="0.2",
        ALGOPIONEER_CONSOLE__EQUITY_EVERY_S="1",
        ALGOPIONEER_CONSOLE__KV_REFRESH_S="0.5",
    )
    page = f"http://127.0.0.1:{page_port}/"
    try:
        async with aiohttp.ClientSession() as http:
            await eventually(lambda: _ready(http, page + "api/session"), timeout_s=30, what="the console")
        pnl: list[PnlSummary] = []

        async def on_pnl(summary: PnlSummary) -> None:
            pnl.append(summary)

        await admin.subscribe(subjects.RISK_PNL, PnlSummary, on_pnl, traced=False)
        await _tick(admin, "100500")
        await _trade(admin)

        async def marked() -> PnlSummary | None:
            await _tick(admin, "101000")
            latest = pnl[-1] if pnl else None
            return latest if latest and latest.positions and latest.unrealized != 0 else None

        summary = await eventually(marked, timeout_s=30, what="risk's PnL of the fill, marked")

        def look() -> None:
            driver.get(page)
            _wait_text(driver, "#live", "live")
            _wait_text(driver, "#positions tbody", SID)
            _wait_text(driver, "#positions tbody", "0.01")
            _wait_text(driver, "#strategies tbody", "ma-crossover")
            _wait_text(driver, "#services tbody", "console")
            errors = _js_errors(driver)
            assert not errors, errors

        await asyncio.to_thread(look)
        latest = pnl[-1]
        shown = await asyncio.to_thread(_text, driver, "#pnl-total")
        assert summary is not None
        assert shown in {f"{p.total:,.2f}" for p in pnl[pnl.index(summary) :]}, (shown, latest.total)
        link = _live(
            driver, lambda c: c.find_element(By.CSS_SELECTOR, "#orders a.trace").get_attribute("href")
        )
        assert link == f"http://localhost:16686/trace/{TRACE_ID}"

        # Without a login a halt is refused, and risk is not asked.
        def refused() -> None:
            _live(driver, lambda c: c.find_element(By.ID, "halt-reason").send_keys("browser test"))
            _click(driver, By.ID, "halt")
            _wait_text(driver, "#action-result", "refused (401)")

        await asyncio.to_thread(refused)
        state = await _risk_state(admin)
        assert state is None or not state.kill_switch

        def halt() -> None:
            _live(driver, lambda c: c.find_element(By.ID, "password").send_keys(PASSWORD))
            _click(driver, By.ID, "login")
            _wait_text(driver, "#operator", "logged in")
            _click(driver, By.CSS_SELECTOR, f"button[data-instance='{SID}']")
            _wait_text(driver, "#action-result", f"ok: stopped {SID}")
            _click(driver, By.ID, "halt")
            _wait_text(driver, "#action-result", "ok:")
            _wait_text(driver, "#killswitch", "HALTED")

        await asyncio.to_thread(halt)

        async def kill_switch_on() -> RiskState | None:
            state = await _risk_state(admin)
            return state if state and state.kill_switch else None

        spec = await (await admin.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)).get(SID)
        assert spec is not None
        assert not spec.value.enabled
        halted = await eventually(kill_switch_on, timeout_s=10, what="risk's kill switch on")
        assert halted is not None
        assert "browser test" in halted.kill_reason
        errors = await asyncio.to_thread(_js_errors, driver)
        assert not errors, errors
        shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "console.png")
        assert await asyncio.to_thread(driver.save_screenshot, str(shot)), "no screenshot taken"
    finally:
        _stop(console)
        _stop(risk)
    assert console.returncode == 0, (tmp_path / "console.log").read_text()[-3000:]
