"""Browser tests (issue 14): the History view's server-side filters, its CSV download, its phone
layout (no sideways scroll; P&L and reason in view), and the Performance view's figures
against the API's, at a desk (1440x900) and on a phone (390x844). Closed trades with known
figures (tests.history_seed) are committed to the real store behind the dashboard."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import ACCOUNT, ARTIFACTS, Dashboard, close_page, new_page, sign_in
from tests.history_seed import seed

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser-history_performance"),
]

DESK = (1440, 900)
PHONE = (390, 844)


async def _seeded(dashboard: Dashboard) -> None:
    await dashboard.strategy("s1")
    await dashboard.strategy("s2")
    assert await dashboard.stack.store.commit(seed(ACCOUNT, "someone-else"))


async def _open(page: Page, dashboard: Dashboard, view: str) -> None:
    await sign_in(page, dashboard)
    await page.locator(f"[data-tab={view}]:visible").click()
    await expect(page.locator(f"#view-{view}")).to_be_visible()


def _rows(page: Page) -> Any:
    return page.locator("[data-testid=history-row]:visible")


async def _ids(page: Page) -> list[str]:
    rows = _rows(page)
    return [
        str(await rows.nth(i).get_attribute("data-trade-id")) for i in range(await rows.count())
    ]


async def _shows(page: Page, query: str, ids: list[str]) -> None:
    """The list shows the result of `query` (the filter as the page sent it): these rows."""
    await expect(page.locator("#view-history")).to_have_attribute("data-query", query)
    await expect(_rows(page)).to_have_count(len(ids))
    assert await _ids(page) == ids


async def _apply(page: Page, **fields: str) -> None:
    form = page.get_by_test_id("history-filters")
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await form.get_by_role("button", name="Apply").click()


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
async def test_filters_narrow_the_list_and_a_refused_filter_changes_nothing(
    dashboard: Dashboard, browser: Browser, size: tuple[int, int]
) -> None:
    await _seeded(dashboard)
    page = await new_page(browser, *size)
    try:
        await _open(page, dashboard, "history")
        await _shows(page, "", ["H4", "H3", "H2", "H1"])
        await _apply(page, strategy="s2")
        await _shows(page, "strategy=s2", ["H4", "H3"])
        await _apply(page, strategy="", symbol="sbin", reason="STOP_LOSS")
        await _shows(page, "symbol=SBIN&reason=STOP_LOSS", ["H1"])
        await _apply(page, symbol="", reason="", **{"from": "2026-12-02", "to": "2026-12-02"})
        await _shows(page, "from=2026-12-02&to=2026-12-02", ["H2"])

        # the server refuses a symbol that cannot be one: the error shows, the list stays
        await _apply(page, symbol="<b>x")
        await expect(page.get_by_test_id("history-error")).to_contain_text("symbol")
        await _shows(page, "from=2026-12-02&to=2026-12-02", ["H2"])
        await page.get_by_test_id("history-filters").get_by_role("button", name="Clear").click()
        await _shows(page, "", ["H4", "H3", "H2", "H1"])
        await expect(page.get_by_test_id("history-error")).to_be_hidden()
    finally:
        await close_page(page)


@pytest.mark.asyncio
async def test_csv_download_holds_the_filtered_rows(dashboard: Dashboard, browser: Browser) -> None:
    await _seeded(dashboard)
    page = await new_page(browser, *DESK)
    try:
        await _open(page, dashboard, "history")
        await _apply(page, symbol="SBIN")
        await _shows(page, "symbol=SBIN", ["H3", "H1"])
        async with page.expect_download() as info:
            await page.get_by_test_id("history-export").click()
        download = await info.value
        assert download.suggested_filename == "tradeguard-history.csv"
        path = await download.path()
        text = await asyncio.to_thread(Path(str(path)).read_text, "utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["trade_id"] for r in rows] == await _ids(page) == ["H3", "H1"]
        api = await dashboard.stack.service.history_export(ACCOUNT, {"symbol": "SBIN"})
        assert [r["pnl"] for r in rows] == [a["pnl"] for a in api] == ["-80.40", "-110.00"]
        h1 = rows[1]
        assert (h1["entry_time"], h1["holding_time"]) == ("2026-12-01T09:30:00+05:30", "1:15:30")
        assert (h1["trigger_price"], h1["exit_price"], h1["slippage_amount"]) == (
            "790.00",
            "789.00",
            "-10.00",
        )
        # the table shows the same entry time, holding time and slippage
        row = page.locator("[data-testid=history-row][data-trade-id=H1]")
        await expect(row.locator("[data-f=held]")).to_have_text("1h 15m")
        await expect(row.locator("[data-f=slippage]")).to_contain_text("₹10.00")
        await expect(row.locator("[data-f=entered_at]")).to_contain_text("09:30:00")
    finally:
        await close_page(page)


@pytest.mark.asyncio
async def test_history_is_readable_on_a_phone(dashboard: Dashboard, browser: Browser) -> None:
    await _seeded(dashboard)
    page = await new_page(browser, *PHONE)
    try:
        await _open(page, dashboard, "history")
        await expect(_rows(page)).to_have_count(4)
        width = await page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE[0], f"history scrolls sideways: {width} px in {PHONE[0]}"
        for i in range(4):
            row = _rows(page).nth(i)
            for part in (row.locator("[data-f=pnl]"), row.locator("[data-reason]")):
                box = await part.bounding_box()
                assert box is not None
                assert box["x"] >= 0, (i, box)
                assert box["x"] + box["width"] <= PHONE[0], (i, box)
        first = _rows(page).first
        await expect(first.locator("[data-f=pnl]")).to_be_in_viewport()
        await expect(first.locator("[data-reason]")).to_be_in_viewport()
        await expect(first.locator("[data-f=held]")).to_be_visible()
        await expect(first.locator("[data-f=slippage]")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "history-phone.png"), full_page=True)
    finally:
        await close_page(page)


async def _figures_match(page: Page, api: dict[str, Any]) -> None:
    for key in ("trades", "win_rate", "total_pnl", "average_win", "average_loss"):
        figure = page.get_by_test_id(f"perf-{key}")
        await expect(figure).to_have_attribute("data-value", str(api[key] or ""))
    for key in ("profit_factor", "max_drawdown"):
        await expect(page.get_by_test_id(f"perf-{key}")).to_have_attribute(
            "data-value", str(api[key] or "")
        )
    reasons = page.get_by_test_id("perf-reason")
    await expect(reasons).to_have_count(len(api["by_reason"]))
    for item in api["by_reason"]:
        shown = page.locator(f"[data-testid=perf-reason][data-key={item['reason']}]")
        await expect(shown).to_have_attribute("data-value", item["pnl"])
    strategies = page.get_by_test_id("perf-strategy")
    await expect(strategies).to_have_count(len(api["by_strategy"]))
    bars = page.get_by_test_id("daily-bar")
    await expect(bars).to_have_count(len(api["daily"]))
    for i, day in enumerate(api["daily"]):
        await expect(bars.nth(i)).to_have_attribute("data-value", day["pnl"])
    await expect(page.get_by_test_id("equity-chart")).to_have_attribute(
        "data-points", str(len(api["equity"]))
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
async def test_performance_view_shows_the_figures_the_api_computes(
    dashboard: Dashboard, browser: Browser, size: tuple[int, int]
) -> None:
    await _seeded(dashboard)
    page = await new_page(browser, *size)
    try:
        await _open(page, dashboard, "performance")
        everything = await dashboard.stack.service.performance(ACCOUNT, {})
        await _figures_match(page, everything)
        # the hand-computed figures of tests.history_seed, as a trader reads them
        await expect(page.get_by_test_id("perf-win_rate")).to_contain_text("25.00%")
        await expect(page.get_by_test_id("perf-total_pnl")).to_contain_text("+₹62.10")
        await expect(page.get_by_test_id("perf-average_loss")).to_contain_text("₹95.20")
        await expect(page.locator("[data-axis=y]").first).to_be_visible()
        width = await page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= size[0], f"performance scrolls sideways: {width} px in {size[0]}"

        form = page.get_by_test_id("perf-filters")
        await form.locator("[name=strategy]").select_option("s1")
        await form.get_by_role("button", name="Apply").click()
        s1 = await dashboard.stack.service.performance(ACCOUNT, {"strategy": "s1"})
        await expect(page.get_by_test_id("perf-trades")).to_have_attribute("data-value", "2")
        await _figures_match(page, s1)
        if size == PHONE:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "performance-phone.png"), full_page=True)
        if size == DESK:
            await form.locator("[name=strategy]").select_option("")
            await form.get_by_role("button", name="Apply").click()
            await expect(page.get_by_test_id("perf-trades")).to_have_attribute("data-value", "4")
            # for people to judge; docs/dashboard-performance.png is a copy of it
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard-performance.png"), full_page=True)
    finally:
        await close_page(page)
