"""Browser tests of the broker view, "guard this position", partial exit and the audit log, at
a desk (1440x900) and on a phone (390x844): a position opened by another tool (an order
placed straight at the embedded simulator with its own API key) shows flagged as unguarded;
guarding it makes a trade in the live list; a partial exit leaves the rest guarded; the audit
view shows who did it."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    ACCOUNT,
    ARTIFACTS,
    SIZES,
    USERNAME,
    Dashboard,
    close_page,
    new_page,
    sign_in,
    trade_el,
)
from tests.helpers import eventually

# one xdist worker per file (files run side by side, a chromium per worker at most)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser-broker_audit"),
]


async def place_at_simulator(dashboard: Dashboard, symbol: str, quantity: int) -> None:
    """Open a position tradeguard knows nothing of, as another tool would."""
    sim = dashboard.stack.sim
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=10.0) as client:
        reply = await client.post(
            "/api/v1/placeorder",
            json={
                "apikey": sim.apikey,
                "strategy": "manual",
                "symbol": symbol,
                "exchange": "NSE",
                "action": "BUY",
                "quantity": str(quantity),
                "pricetype": "MARKET",
                "product": "MIS",
            },
        )
    assert reply.status_code == 200, reply.text


def position(page: Page, size: str, key: str) -> Locator:
    box = "#broker-positions-body" if size == "desk" else "#broker-positions-cards"
    return page.locator(f"{box} [data-position='{key}']")


async def net(dashboard: Dashboard, symbol: str) -> int:
    return await dashboard.stack.gateway.open_position(symbol, "NSE", "MIS", "test")


async def no_sideways_scroll(page: Page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page scrolls sideways ({scroll}px in {width}px)"


@pytest.mark.asyncio
@pytest.mark.parametrize("size", list(SIZES))
async def test_guard_a_position_exit_part_of_it_and_see_it_audited(
    dashboard: Dashboard, browser: Browser, size: str
) -> None:
    width, height = SIZES[size]
    service = dashboard.stack.service
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    guarded = await dashboard.trade("INFY", "BUY", 5, "momentum")
    await place_at_simulator(dashboard, "SBIN", 10)
    page = await new_page(browser, width, height)
    try:
        await sign_in(page, dashboard)
        await page.goto(dashboard.url + "/#broker")
        sbin = position(page, size, "SBIN:NSE:MIS")
        await expect(sbin).to_be_visible()
        await expect(sbin).to_have_attribute("data-unguarded", "10")
        await expect(sbin.locator("[data-role=status]")).to_have_text("Unguarded")
        infy = position(page, size, "INFY:NSE:MIS")
        await expect(infy.locator("[data-role=status]")).to_have_text("Guarded")
        await expect(page.get_by_test_id("broker-unguarded")).to_have_text("1 unguarded")
        await expect(page.locator("#broker-orders-body tr")).to_have_count(2)
        await no_sideways_scroll(page, width)
        if size == "desk":
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(
                path=str(ARTIFACTS / "dashboard-broker.png"), full_page=True, animations="disabled"
            )

        # guard this position: a trade of the unguarded 10 with momentum's default rules
        await sbin.get_by_role("button", name="Guard this position").click()
        dialog = page.get_by_test_id("guard-dialog")
        await expect(dialog).to_contain_text("average price 800.00")
        await expect(dialog.locator("[name=quantity]")).to_have_value("10")
        await dialog.get_by_role("button", name="Guard", exact=True).click()
        await expect(page.get_by_test_id("toast").filter(has_text="10 now guarded")).to_be_visible()
        await expect(sbin.locator("[data-role=status]")).to_have_text("Guarded")
        await expect(page.get_by_test_id("broker-unguarded")).to_have_text("all guarded")
        [trade_id] = [
            t["trade_id"] for t in service.active_trades(ACCOUNT) if t["trade_id"] != guarded
        ]
        await page.goto(dashboard.url + "/#live")
        row = trade_el(page, size, trade_id)
        await expect(row).to_be_visible()
        await expect(row.locator("[data-f=quantity]")).to_have_text("10")
        await expect(row.locator("[data-f=stop_loss]")).to_have_text("790.00")

        # partial exit: 4 of 10; the rest stays guarded with the same stop
        await row.get_by_role("button", name="Partial").click()
        part = page.get_by_test_id("partial-dialog")
        await part.locator("[name=quantity]").fill("10")
        await part.get_by_role("button", name="Exit this much").click()
        await expect(part.locator("#partial-error")).to_contain_text("1 to 9")
        await part.locator("[name=quantity]").fill("4")
        await part.get_by_role("button", name="Exit this much").click()
        await expect(row.locator("[data-f=quantity]")).to_have_text("6")
        await expect(row.locator("[data-f=stop_loss]")).to_have_text("790.00")

        async def six_left() -> bool:
            return await net(dashboard, "SBIN") == 6

        await eventually(six_left, message="4 of SBIN exited")
        [rest] = [t for t in service.active_trades(ACCOUNT) if t["trade_id"] == trade_id]
        assert (rest["quantity"], rest["state"], rest["stop_loss"]) == (6, "ACTIVE", "790.00")
        await no_sideways_scroll(page, width)

        # the audit log: who did it, newest first, filtered to the trade
        await page.goto(dashboard.url + "/#audit")
        await page.locator("#audit-form [name=trade_id]").fill(trade_id)
        await page.locator("#audit-form").get_by_role("button", name="Filter").click()
        entries = page.get_by_test_id("audit-list").locator("li")
        await expect(entries.first).to_have_attribute("data-action", "partial_exit")
        await expect(entries.first.locator("[data-role=actor]")).to_have_text(USERNAME)
        await expect(entries.first).to_contain_text("remaining: 6")
        await expect(entries.last).to_have_attribute("data-action", "trade_created")
        await expect(entries.last.locator("[data-role=actor]")).to_have_text(USERNAME)
        await no_sideways_scroll(page, width)
        if size == "desk":
            await page.screenshot(
                path=str(ARTIFACTS / "dashboard-audit.png"), full_page=True, animations="disabled"
            )
    finally:
        await close_page(page)
