"""Browser tests: Debian's chromium driven by Playwright (async API) against the real stack.

The stack is tests.stack's (embedded simulator, real OpenAlgo gateway and feed, SQLite store,
app runtime) with the real API app (interfaces.api.build_app) served by uvicorn on the same
event loop, so a test moves the simulator's price and watches the page react over the real
WebSocket. Chromium comes from Debian (installed here when missing); Playwright never
downloads a browser.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tests.stack import Stack, running_stack
from tradeguard.adapters.asgi_server import AsgiServer
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.security import Argon2Hasher, FernetBox
from tradeguard.app.accounts import AccountService
from tradeguard.app.publisher import ViewPublisher
from tradeguard.app.service import CreateTrade
from tradeguard.interfaces.api import ApiOptions, build_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ACCOUNT = "desk"
USERNAME = "trader"
PASSWORD = "correct-horse-battery"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The two screens every dashboard feature is tried on: a laptop and a phone.
SIZES = {"desk": (1440, 900), "phone": (390, 844)}

# Risk settings with round numbers, so a test knows every level: entry 800 -> stop 790,
# target 850; trailing 5 points behind the best price once it moves.
GUARDED = {
    "enable_sl": True,
    "sl_type": "POINTS",
    "sl_value": "10",
    "enable_target": True,
    "target_type": "POINTS",
    "target_value": "50",
    "enable_trailing_sl": True,
    "trailing_sl_type": "POINTS",
    "trailing_sl_value": "5",
    "allocated_funds": "500000",
    "enable_portfolio_sl": True,
    "portfolio_sl_type": "AMOUNT",
    "portfolio_sl_value": "5000",
    "enable_portfolio_target": True,
    "portfolio_target_type": "AMOUNT",
    "portfolio_target_value": "8000",
    "daily_loss_limit": "10000",
}

# How long an expectation waits for the page to show what it expects: a deadline for a
# failure, never a wait for something to happen (a passing expectation returns as soon as it
# holds). Generous, for a machine busy with other work.
expect.set_options(timeout=30_000)


def _apt_get(*args: str) -> str | None:
    """Run apt-get (waiting up to 5 minutes for another apt's lock); the problem, or None."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args]
    try:
        subprocess.run(command, check=True, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.CalledProcessError as error:
        output = (error.stderr or error.stdout or "").strip().splitlines()[-5:]
        return f"`{' '.join(command)}` exited {error.returncode}: " + " | ".join(output)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`{' '.join(command)}` failed: {error}"
    return None


def install_chromium() -> str | None:
    """Install Debian's chromium with apt-get; None when it is there afterwards, else why not."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available on this machine"
    if os.geteuid() != 0:
        return "installing it needs root (apt-get)"
    problem = _apt_get("update") or _apt_get("install", "-y", "--no-install-recommends", "chromium")
    if problem is None and not Path(CHROMIUM).exists():
        problem = "apt-get install chromium succeeded but did not install it"
    return problem


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium: installed with apt-get when missing (CI runs as root on the same
    kind of machine); never `playwright install`. When it cannot be had, every browser test
    fails at once with the reason and the command that fixes it (never a traceback from
    deep inside apt or Playwright)."""
    if not Path(CHROMIUM).exists():
        problem = install_chromium()
        if problem is not None:
            pytest.fail(
                f"the browser tests need {CHROMIUM} (Debian's chromium), which is missing and "
                f"could not be installed: {problem}. Install it with "
                "`apt-get install --no-install-recommends chromium`, or deselect these tests "
                "with `-m 'not browser'`.",
                pytrace=False,
            )
    return CHROMIUM


@dataclass
class Dashboard:
    """The running stack, its web server, and the signed-in user's account."""

    stack: Stack
    server: AsgiServer
    accounts: AccountService
    app: Any
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop_server(self) -> None:
        await self.server.stop()

    async def start_server(self) -> None:
        """Serve the same app again on the same port (a restart, as the browser sees it)."""
        self.server = AsgiServer(self.app, port=self.port)
        await self.server.start()

    async def strategy(self, name: str, **settings: Any) -> dict[str, Any]:
        return await self.stack.service.configure_strategy(
            ACCOUNT, name, {**GUARDED, **settings}, actor="test"
        )

    async def trade(self, symbol: str, action: str, quantity: int, strategy: str) -> str:
        """Enter at the simulator (as the trader's strategy would) and guard the fill."""
        order_id = await self.stack.fill_entry(symbol, action, quantity, strategy)
        view = await self.stack.service.create_trade(
            ACCOUNT, CreateTrade(strategy=strategy, order_id=order_id), actor="test"
        )
        await self.stack.wait_subscribed(symbol)
        return str(view["trade_id"])


@pytest_asyncio.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with running_stack(tmp_path) as stack:
        accounts = AccountService(
            stack.store,
            Argon2Hasher(time_cost=1, memory_cost=1024),
            FernetBox(Fernet.generate_key()),
            SystemClock(),
        )
        await accounts.load()
        await accounts.ensure_default(ACCOUNT, USERNAME, PASSWORD)
        options = ApiOptions(rate=1000.0, burst=1000, login_burst=50, stream_interval=0.05)
        app = build_app(stack.service, accounts, options)
        server = AsgiServer(app, port=0)
        await server.start()
        dashboard = Dashboard(stack, server, accounts, app, server.port)
        publisher = asyncio.create_task(ViewPublisher(stack.service, interval=0.05).run())
        try:
            yield dashboard
        finally:
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)
            await dashboard.server.stop()


@pytest_asyncio.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


_JS_ERRORS: dict[Page, list[str]] = {}


async def new_page(browser: Browser, width: int = 1440, height: int = 900) -> Page:
    """A page in its own context (own cookies) that records uncaught JavaScript errors."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    errors = _JS_ERRORS.setdefault(page, [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


async def close_page(page: Page) -> None:
    """Close the page's context; fail when the page threw an uncaught JavaScript error."""
    errors = _JS_ERRORS.pop(page, [])
    await page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def trade_el(page: Page, size: str, trade_id: str) -> Locator:
    """A trade's row (desk) or card (phone): the one the trader sees at that size."""
    box = "#trades-body" if size == "desk" else "#trades-cards"
    return page.locator(f"{box} [data-trade-id='{trade_id}'][data-trade-el]")


async def sign_in(page: Page, dashboard: Dashboard) -> None:
    await page.goto(dashboard.url + "/")
    await expect(page).to_have_url(dashboard.url + "/login")
    await page.fill("#username", USERNAME)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(dashboard.url + "/")
    await expect(page.get_by_test_id("conn-badge")).to_have_attribute("data-state", "live")


@pytest_asyncio.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    page = await new_page(browser)
    yield page
    await close_page(page)
