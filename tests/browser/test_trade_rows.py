"""Browser tests of the live trade rows and the charts, at desk (1440x900) and phone (390x844)
sizes: the ₹ and % distances to the stop and the target follow the simulator's price, a trail
that arms later says where, each trade's price chart and the strategy's P&L chart (with its
axis labels) are drawn from the server's history, so a reload redraws them.

With TRADEGUARD_DOCS_SCREENSHOTS=1 the screenshot test also refreshes docs/dashboard.png and
docs/dashboard-phone.png (`TRADEGUARD_DOCS_SCREENSHOTS=1 .venv/bin/python -m pytest
tests/browser/test_trade_rows.py -k screenshots`)."""

from __future__ import annotations

import inspect
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.conftest import ARTIFACTS, Dashboard, close_page, new_page, sign_in
from tests.helpers import eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser-trade_rows")]

DESK = (1440, 900)
PHONE = (390, 844)
DOCS = Path(__file__).resolve().parents[2] / "docs"


async def signed_in(page: Page, dashboard: Dashboard) -> None:
    """Sign in, then let the page's first loads finish: a /ui/api/trades reply still in
    flight would otherwise replace the prices the stream pushes after it (see app.js
    refreshAll), and the test would wait for a price that was overwritten."""
    await sign_in(page, dashboard)
    await page.wait_for_load_state("networkidle")


def trade_el(page: Page, trade_id: str, phone: bool) -> Locator:
    kind = "trade-card" if phone else "trade-row"
    return page.locator(f"[data-testid={kind}][data-trade-id='{trade_id}']")


async def points_of(chart: Locator) -> int:
    return int(await chart.get_attribute("data-points") or 0)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
async def test_distances_to_stop_and_target_follow_the_price(
    dashboard: Dashboard, browser: Browser, size: tuple[int, int]
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    await dashboard.strategy("open_ended", enable_trailing_sl=False, enable_target=False)
    sbin = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    infy = await dashboard.trade("INFY", "SELL", 5, "open_ended")
    page = await new_page(browser, *size)
    phone = size == PHONE
    try:
        await signed_in(page, dashboard)
        row = trade_el(page, sbin, phone)
        await expect(row).to_be_visible()
        # entry 800: stop 790 (10 below), target 850 (50 above); the stop is danger (−)
        await expect(row.locator("[data-f=stop_dist]")).to_have_text("−₹10.00 · −1.25%")
        await expect(row.locator("[data-f=target_dist]")).to_have_text("+₹50.00 · +6.25%")
        await expect(row.get_by_test_id("stop-dist")).to_contain_text("to stop")
        await expect(row.get_by_test_id("target-dist")).to_contain_text("to target")
        stop_dist = row.locator("[data-f=stop_dist]")
        await expect(stop_dist).to_have_class(re.compile(r"\btext-error"))
        await expect(row.locator("[data-f=target_dist]")).to_have_class(
            re.compile(r"\btext-success")
        )
        dashboard.stack.price("SBIN", "820")
        await expect(row.locator("[data-f=stop_dist]")).to_have_text("−₹30.00 · −3.66%")
        await expect(row.locator("[data-f=target_dist]")).to_have_text("+₹30.00 · +3.66%")
        dashboard.stack.price("SBIN", "793")  # within 0.5% of the stop: bold
        await expect(row.locator("[data-f=stop_dist]")).to_have_text("−₹3.00 · −0.38%")
        await expect(stop_dist).to_have_class(re.compile(r"\bfont-semibold\b"))
        # a SHORT without a target: the distances are there, the target's says so
        short = trade_el(page, infy, phone)
        await expect(short.locator("[data-f=target_dist]")).to_have_text("no target")
        await expect(short.locator("[data-f=stop_dist]")).to_contain_text("−₹")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= size[0], f"the page scrolls sideways ({width}px in {size[0]}px)"
    finally:
        await close_page(page)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
async def test_a_trail_not_armed_yet_says_where_it_arms(
    dashboard: Dashboard, browser: Browser, size: tuple[int, int]
) -> None:
    await dashboard.strategy("later", trailing_activation_value="10")
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "later")
    page = await new_page(browser, *size)
    try:
        await signed_in(page, dashboard)
        row = trade_el(page, trade_id, size == PHONE)
        await expect(row.locator("[data-f=trailing_stop]")).to_have_text("trail arms at 810.00")
        dashboard.stack.price("SBIN", "812")  # armed: 5 points behind the best price
        await expect(row.locator("[data-f=trailing_stop]")).to_have_text("807.00")
        await expect(row.locator("[data-f=stop_loss]")).to_have_text("807.00")
    finally:
        await close_page(page)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
async def test_the_trade_chart_and_the_strategy_chart_survive_a_reload(
    dashboard: Dashboard, browser: Browser, size: tuple[int, int]
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    page = await new_page(browser, *size)
    phone = size == PHONE
    try:
        await signed_in(page, dashboard)
        await trade_el(page, trade_id, phone).scroll_into_view_if_needed()
        chart = trade_el(page, trade_id, phone).get_by_test_id("trade-chart")
        await expect(chart).to_be_visible()
        await expect(chart.locator("[data-level=entry_price]")).to_have_count(1)
        await expect(chart.locator("[data-level=stop_loss]")).to_have_count(1)
        series = dashboard.stack.service.charts
        for value in ("804", "809", "806"):
            dashboard.stack.price("SBIN", value)
            last = trade_el(page, trade_id, phone).locator("[data-f=last_price]")
            await expect(last).to_have_text(f"{value}.00")
            # the server samples once a second: wait until its history has this price
            await expect_true(
                lambda value=value: series.trades[trade_id].last == int(value) * 10_000,
                f"the server's series at {value}",
            )
        await expect_true(lambda: points_of(chart), "the live trade chart", at_least=4)
        strategy_chart = page.get_by_test_id("pnl-chart")
        await expect(strategy_chart.locator("[data-axis=zero]")).to_have_text("₹0")
        await expect(strategy_chart.locator("[data-axis=start]")).to_have_count(1)
        await expect(strategy_chart.locator("[data-axis=end]")).to_have_count(1)
        await expect(strategy_chart.locator("[data-axis=max]")).to_have_count(1)
        # the day loss limit (−₹10,000) is far from a P&L of about +₹60: a label, not the scale
        await expect(strategy_chart.locator("[data-offscale=daily_loss_limit]")).to_contain_text(
            "Day limit"
        )
        await expect(strategy_chart.locator("line[data-level=daily_loss_limit]")).to_have_count(0)

        await page.reload()
        await expect(page.get_by_test_id("conn-badge")).to_have_attribute("data-state", "live")
        await trade_el(page, trade_id, phone).scroll_into_view_if_needed()
        chart = trade_el(page, trade_id, phone).get_by_test_id("trade-chart")
        await expect(chart).to_be_visible()
        # no price moved since the reload: entry + 3 moves, all from the server's history
        await expect_true(lambda: points_of(chart), "the reloaded trade chart", at_least=4)
        strategy_chart = page.get_by_test_id("pnl-chart")
        await expect_true(lambda: points_of(strategy_chart), "a strategy chart", at_least=2)
        await expect(strategy_chart.locator("[data-axis=max]")).to_have_count(1)
    finally:
        await close_page(page)


async def expect_true(
    check: Callable[[], object], message: str, at_least: int | None = None
) -> None:
    """Wait for `check()` (a value or an awaitable) to be truthy, or to reach `at_least`."""

    async def holds() -> bool:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if at_least is not None:
            return isinstance(value, int) and value >= at_least
        return bool(value)

    await eventually(holds, timeout=30.0, message=message)


@pytest.mark.asyncio
async def test_screenshots_of_the_trade_rows_and_charts(
    dashboard: Dashboard, browser: Browser
) -> None:
    """The pictures in docs/dashboard.md: two strategies, a long, a short and a trail that arms
    later, after the market moved a little."""
    await dashboard.strategy("momentum")
    await dashboard.strategy(
        "swing",
        sl_type="PERCENT",
        sl_value="1.5",
        target_type="PERCENT",
        target_value="3",
        trailing_activation_value="40",
        enable_portfolio_trailing_sl=True,
        portfolio_trailing_type="AMOUNT",
        portfolio_trailing_value="300",
    )
    sbin = await dashboard.trade("SBIN", "BUY", 50, "momentum")
    infy = await dashboard.trade("INFY", "SELL", 20, "momentum")
    tcs = await dashboard.trade("TCS", "BUY", 10, "swing")
    series = dashboard.stack.service.charts
    desk = await new_page(browser, *DESK)
    phone = await new_page(browser, *PHONE)
    try:
        await signed_in(desk, dashboard)
        moves = [
            ("803.2", "1497.1", "4012"),
            ("806.5", "1494.2", "4031"),
            ("805.1", "1495.6", "4026"),
            ("804.15", "1496.85", "4024.5"),
        ]
        for sbin_price, infy_price, tcs_price in moves:
            for symbol, value in (("SBIN", sbin_price), ("INFY", infy_price), ("TCS", tcs_price)):
                dashboard.stack.price(symbol, value)
            last = series.trades.get(sbin)
            before = len(last) if last is not None else 0
            await expect_true(
                lambda before=before: len(series.trades.get(sbin, [])) > before, "a sample"
            )
        await expect(trade_el(desk, infy, False).locator("[data-f=last_price]")).to_have_text(
            "1,496.85"
        )
        await expect(trade_el(desk, tcs, False).locator("[data-f=trailing_stop]")).to_contain_text(
            "arms at"
        )
        await desk.reload()
        await expect(desk.get_by_test_id("trade-chart")).to_have_count(3)
        await signed_in(phone, dashboard)
        await expect(trade_el(phone, sbin, True).get_by_test_id("trade-chart")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        shots = {"dashboard.png": desk, "dashboard-phone.png": phone}
        for name, page in shots.items():
            await page.screenshot(path=str(ARTIFACTS / name), full_page=True, animations="disabled")
            if os.environ.get("TRADEGUARD_DOCS_SCREENSHOTS") == "1":
                shutil.copyfile(ARTIFACTS / name, DOCS / name)
    finally:
        await close_page(desk)
        await close_page(phone)
