"""Browser tests of the dashboard: sign-in, live levels, edits, exits, exit-all, phone layout,
the risk form's completeness, and a screenshot for people to judge the design."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    ARTIFACTS,
    PASSWORD,
    SIZES,
    USERNAME,
    Dashboard,
    close_page,
    new_page,
    sign_in,
    trade_el,
)
from tests.helpers import eventually
from tradeguard.core.strategy import StrategyRiskConfig

# one xdist worker per file (files run side by side, a chromium per worker at most)
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser-dashboard")]


def row(page: Page, trade_id: str) -> Locator:
    return page.locator(f"#trades-body tr[data-trade-id='{trade_id}']")


@pytest.mark.asyncio
async def test_sign_in_refuses_a_wrong_password_then_opens_the_dashboard(
    dashboard: Dashboard, page: Page
) -> None:
    await page.goto(dashboard.url + "/")
    await expect(page).to_have_url(dashboard.url + "/login")
    await page.fill("#username", USERNAME)
    await page.fill("#password", "not-the-password")
    await page.click("#login-submit")
    await expect(page.get_by_test_id("login-error")).to_contain_text("Wrong username or password")
    await page.fill("#username", USERNAME)
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await expect(page).to_have_url(dashboard.url + "/")
    await expect(page.get_by_test_id("conn-badge")).to_have_attribute("data-state", "live")
    await expect(page.locator("#me-name")).to_have_text(USERNAME)


@pytest.mark.asyncio
async def test_trade_levels_follow_the_market_live(dashboard: Dashboard, page: Page) -> None:
    await dashboard.strategy("momentum")
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    await sign_in(page, dashboard)
    sbin = row(page, trade_id)
    await expect(sbin.locator("[data-f=entry_price]")).to_have_text("800.00")
    # the trail (5 points behind the best price, from entry) is tighter than the 10-point stop
    await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("795.00")
    await expect(sbin.locator("[data-f=target]")).to_have_text("850.00")

    dashboard.stack.price("SBIN", "820")  # best 820: the trail lifts the stop to 815
    await expect(sbin.locator("[data-f=last_price]")).to_have_text("820.00")
    await expect(sbin.locator("[data-f=pnl]")).to_have_text("+₹200.00")
    await expect(sbin.locator("[data-f=pnl]")).to_have_class(re.compile(r"\bpnl-pos\b"))
    await expect(sbin.locator("[data-f=trailing_stop]")).to_have_text("815.00")
    await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("815.00")
    await expect(sbin.locator("[data-f=stop_reason]")).to_have_text("Trailing")

    dashboard.stack.price("SBIN", "817")  # a dip never loosens the stop; the P&L turns smaller
    await expect(sbin.locator("[data-f=last_price]")).to_have_text("817.00")
    await expect(sbin.locator("[data-f=pnl]")).to_have_text("+₹170.00")
    await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("815.00")
    card = page.get_by_test_id("strategy-card").filter(has_text="momentum")
    await expect(card.get_by_test_id("strategy-pnl")).to_have_text("+₹170.00")


@pytest.mark.asyncio
async def test_edit_a_stop_then_the_market_crosses_it_and_a_toast_says_so(
    dashboard: Dashboard, page: Page
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    await sign_in(page, dashboard)
    sbin = row(page, trade_id)
    await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("790.00")

    await sbin.get_by_role("button", name="Edit").click()
    dialog = page.get_by_test_id("edit-dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("select[name=stop_loss_type]").select_option("PRICE")
    await dialog.locator("input[name=stop_loss_value]").fill("796.50")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog).to_be_hidden()
    await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("796.50")
    trade = dashboard.stack.service.active_trades("desk")[0]
    assert trade["stop_loss"] == "796.50"

    # a stop above the entry (and the market) is refused with the reason; nothing changes
    await sbin.get_by_role("button", name="Edit").click()
    await dialog.locator("input[name=stop_loss_value]").fill("805")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog.locator("#edit-error")).to_contain_text("stop-loss")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("796.50")

    dashboard.stack.price("SBIN", "796")
    toast = page.get_by_test_id("toast").filter(has_text="Stop loss")
    await expect(toast).to_be_visible()
    await expect(toast).to_contain_text("SBIN")
    await expect(sbin).to_have_count(0)  # closed trades leave the active table
    await page.get_by_role("tab", name="History").first.click()
    closed = page.locator(f"[data-testid=history-row][data-trade-id='{trade_id}']")
    await expect(closed.locator("[data-reason]")).to_have_attribute("data-reason", "STOP_LOSS")
    await expect(page.locator("#events-rail, #events-list").first).to_be_attached()


@pytest.mark.asyncio
async def test_exit_all_asks_first_then_closes_every_trade_of_the_strategy(
    dashboard: Dashboard, page: Page
) -> None:
    await dashboard.strategy("momentum")
    await dashboard.strategy("swing")
    first = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    second = await dashboard.trade("INFY", "SELL", 5, "momentum")
    other = await dashboard.trade("TCS", "BUY", 2, "swing")
    await sign_in(page, dashboard)
    for trade_id in (first, second, other):
        await expect(row(page, trade_id)).to_have_count(1)

    card = page.get_by_test_id("strategy-card").filter(has_text="momentum")
    await card.get_by_role("button", name="Exit all").click()
    confirm = page.get_by_test_id("confirm-dialog")
    await expect(confirm).to_be_visible()
    await expect(confirm).to_contain_text("2 open trades")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    await expect(row(page, first)).to_have_count(1)  # cancelled: nothing was sent

    await card.get_by_role("button", name="Exit all").click()
    await confirm.get_by_role("button", name="Exit all").click()
    await expect(page.get_by_test_id("toast").filter(has_text="Exit all sent")).to_be_visible()
    await expect(row(page, first)).to_have_count(0)
    await expect(row(page, second)).to_have_count(0)
    await expect(row(page, other)).to_have_count(1)  # another strategy's trade stays guarded
    await eventually(lambda: len(dashboard.stack.service.active_trades("desk")) == 1)


@pytest.mark.asyncio
async def test_pause_and_resume_with_confirmation(dashboard: Dashboard, page: Page) -> None:
    await dashboard.strategy("momentum")
    await sign_in(page, dashboard)
    card = page.get_by_test_id("strategy-card").filter(has_text="momentum")
    await expect(card.get_by_test_id("strategy-state")).to_have_text("ACTIVE")
    await card.get_by_role("button", name="Pause").click()
    confirm = page.get_by_test_id("confirm-dialog")
    await confirm.get_by_role("button", name="Pause").click()
    await expect(card.get_by_test_id("strategy-state")).to_have_text("PAUSED")
    await card.get_by_role("button", name="Resume").click()
    await confirm.get_by_role("button", name="Resume").click()
    await expect(card.get_by_test_id("strategy-state")).to_have_text("ACTIVE")


@pytest.mark.asyncio
async def test_the_risk_form_has_every_strategy_setting_and_saves_changes(
    dashboard: Dashboard, page: Page
) -> None:
    await dashboard.strategy("momentum")
    await sign_in(page, dashboard)
    card = page.get_by_test_id("strategy-card").filter(has_text="momentum")
    await card.get_by_role("button", name="Risk settings").click()
    form = page.locator("#config-form")
    await expect(form).to_be_visible()
    for field in fields(StrategyRiskConfig):
        await expect(form.locator(f"[name='{field.name}']")).to_have_count(1)
    await expect(form.locator("[name=sl_value]")).to_have_value("10")
    await form.locator("[name=sl_value]").fill("12.5")
    await form.locator("[name=max_holding_minutes]").fill("90")
    await form.locator("[name=enable_breakeven]").check()
    await form.locator("[name=breakeven_trigger_value]").fill("4")
    await form.get_by_role("button", name="Save configuration").click()
    await expect(page.get_by_test_id("config-dialog")).to_be_hidden()
    await expect(
        page.get_by_test_id("toast").filter(has_text="risk settings saved")
    ).to_be_visible()
    config = dashboard.stack.service.get_strategy("desk", "momentum")["config"]
    assert config["sl_value"] == "12.5"
    assert config["max_holding_minutes"] == 90
    assert config["enable_breakeven"] is True
    assert config["breakeven_trigger_value"] == "4"
    assert config["target_value"] == "50"  # untouched fields keep their values

    # an unusable setting is refused with the reason, shown in the form
    await card.get_by_role("button", name="Risk settings").click()
    await form.locator("[name=daily_loss_limit]").fill("-5")
    await form.get_by_role("button", name="Save configuration").click()
    await expect(page.locator("#config-error")).to_contain_text("daily_loss_limit")


@pytest.mark.asyncio
async def test_phone_width_shows_trades_as_cards_without_sideways_scrolling(
    dashboard: Dashboard, browser: Browser
) -> None:
    await dashboard.strategy("momentum")
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    page = await new_page(browser, 375, 812)
    try:
        await sign_in(page, dashboard)
        card = page.locator(f"[data-testid=trade-card][data-trade-id='{trade_id}']")
        await expect(card).to_be_visible()
        await expect(card).to_contain_text("SBIN")
        await expect(card.locator("[data-f=stop_loss]")).to_have_text("795.00")
        await expect(page.locator("#trades-table")).to_be_hidden()
        dashboard.stack.price("SBIN", "812")
        await expect(card.locator("[data-f=last_price]")).to_have_text("812.00")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page scrolls sideways at phone width ({width}px)"
        await expect(card.get_by_role("button", name="Exit")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(
            path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True, animations="disabled"
        )
    finally:
        await close_page(page)


@pytest.mark.asyncio
@pytest.mark.parametrize("size", list(SIZES))
async def test_one_click_stop_to_cost_then_lock_profit(
    dashboard: Dashboard, browser: Browser, size: str
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    page = await new_page(browser, *SIZES[size])
    try:
        await sign_in(page, dashboard)
        sbin = trade_el(page, size, trade_id)
        await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("790.00")
        dashboard.stack.price("SBIN", "799")
        await expect(sbin.locator("[data-f=last_price]")).to_have_text("799.00")
        await sbin.get_by_role("button", name="To cost").click()  # not in profit: refused
        refused = page.get_by_test_id("toast").filter(has_text="not in profit")
        await expect(refused).to_be_visible()
        await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("790.00")
        dashboard.stack.price("SBIN", "820")
        await expect(sbin.locator("[data-f=last_price]")).to_have_text("820.00")
        await sbin.get_by_role("button", name="To cost").click()
        await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("800.00")
        await sbin.get_by_role("button", name="Lock profit").click()
        await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("810.00")
        assert dashboard.stack.service.active_trades("desk")[0]["stop_loss"] == "810.00"
    finally:
        await close_page(page)


@pytest.mark.asyncio
async def test_exit_one_trade_after_confirmation(dashboard: Dashboard, page: Page) -> None:
    await dashboard.strategy("momentum")
    trade_id = await dashboard.trade("TCS", "BUY", 3, "momentum")
    await sign_in(page, dashboard)
    tcs = row(page, trade_id)
    await tcs.get_by_role("button", name="Exit").click()
    confirm = page.get_by_test_id("confirm-dialog")
    await expect(confirm).to_contain_text("TCS")
    await confirm.get_by_role("button", name="Exit now").click()
    await expect(page.get_by_test_id("toast").filter(has_text="Manual")).to_be_visible()
    await expect(tcs).to_have_count(0)


@pytest.mark.asyncio
async def test_dashboard_screenshot(dashboard: Dashboard, page: Page) -> None:
    """A realistic screen for docs/dashboard.md: two strategies, open and closed trades."""
    await dashboard.strategy("momentum")
    await dashboard.strategy(
        "swing",
        sl_type="PERCENT",
        sl_value="1.5",
        target_type="PERCENT",
        target_value="3",
        enable_trailing_sl=False,
        enable_breakeven=True,
        breakeven_trigger_type="POINTS",
        breakeven_trigger_value="20",
        enable_portfolio_trailing_sl=True,
        portfolio_trailing_type="AMOUNT",
        portfolio_trailing_value="300",
    )
    await sign_in(page, dashboard)
    sbin = await dashboard.trade("SBIN", "BUY", 50, "momentum")
    infy = await dashboard.trade("INFY", "SELL", 20, "momentum")
    await dashboard.trade("TCS", "BUY", 10, "swing")
    for symbol, value in (("SBIN", "806.5"), ("INFY", "1494.2"), ("TCS", "4031")):
        dashboard.stack.price(symbol, value)
    await expect(row(page, sbin).locator("[data-f=trailing_stop]")).to_have_text("801.50")
    for symbol, value in (("SBIN", "804.15"), ("INFY", "1496.85"), ("TCS", "4024.5")):
        dashboard.stack.price(symbol, value)
    await expect(row(page, infy).locator("[data-f=last_price]")).to_have_text("1,496.85")
    await expect(page.get_by_test_id("pnl-chart")).to_have_count(2)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(
        path=str(ARTIFACTS / "dashboard.png"), full_page=True, animations="disabled"
    )


@pytest.mark.asyncio
async def test_a_rejected_exit_raises_an_alert_toast_and_can_be_retried(
    dashboard: Dashboard, page: Page
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    await sign_in(page, dashboard)
    sbin = row(page, trade_id)
    await expect(sbin.locator("[data-f=stop_loss]")).to_have_text("790.00")
    dashboard.stack.sim.broker.reject_next(1, "RMS: margin exceeds available cash", at_submit=True)
    dashboard.stack.price("SBIN", "789")
    alert = page.locator("[data-testid=toast][data-kind=alert]").filter(has_text="RMS")
    await expect(alert).to_be_visible()
    await expect(alert).to_have_class(re.compile(r"\balert-error\b"))
    await expect(sbin).to_contain_text("Exit failed")
    await sbin.get_by_role("button", name="Retry exit").click()
    await page.get_by_test_id("confirm-dialog").get_by_role("button", name="Exit now").click()
    await expect(sbin).to_have_count(0)


@pytest.mark.asyncio
async def test_a_feed_drop_shows_degraded_then_recovered(dashboard: Dashboard, page: Page) -> None:
    await dashboard.strategy("momentum")
    await dashboard.trade("SBIN", "BUY", 10, "momentum")
    await sign_in(page, dashboard)
    await expect(page.get_by_test_id("health-badge")).to_have_attribute("data-state", "ok")
    ws = dashboard.stack.sim.ws
    ws.refuse_connections(True)
    ws.drop_all()
    degraded = page.locator("[data-testid=toast][data-kind=degraded]")
    await expect(degraded).to_be_visible()
    await expect(degraded).to_contain_text("Feed")
    await expect(page.get_by_test_id("degraded-banner")).to_be_visible()
    await expect(page.get_by_test_id("health-badge")).to_have_attribute("data-state", "degraded")
    ws.refuse_connections(False)
    await expect(page.get_by_test_id("toast").filter(has_text="Service recovered")).to_be_visible()
    await expect(page.get_by_test_id("degraded-banner")).to_be_hidden()


@pytest.mark.asyncio
async def test_the_stream_reconnects_after_the_server_drops_it(
    dashboard: Dashboard, page: Page
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    await sign_in(page, dashboard)
    badge = page.get_by_test_id("conn-badge")
    await dashboard.stop_server()  # the dashboard's server goes away (a restart, a blip)
    await expect(badge).to_have_attribute("data-state", "reconnecting")
    await expect(badge).to_contain_text("Reconnecting")
    await dashboard.start_server()
    await expect(badge).to_have_attribute("data-state", "live")
    dashboard.stack.price("SBIN", "812")  # pushes flow again on the new connection
    await expect(row(page, trade_id).locator("[data-f=last_price]")).to_have_text("812.00")
