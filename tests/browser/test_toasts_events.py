"""Browser tests of toasts and the events rail, at desk (1440x900) and phone (390x844) sizes:
toasts never cover the trade list nor the rail and never take a tap, at most three show and
the rest are counted, an exit toast is coloured by its realized P&L and shows it, the rail
shows exits and folds level moves into their trade, and every event names its symbol (also
for a trade that is closed and gone)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.conftest import ARTIFACTS, Dashboard, close_page, new_page, sign_in
from tradeguard.app.service import TradeService

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser-toasts_events"),
]

PHONE = (390, 844)
DESK = (1440, 900)
LONG_WARNING = (
    "Feed for NSE:SBIN, NSE:INFY and NSE:TCS has been silent for 45 seconds during market "
    "hours; tradeguard is polling quotes and keeps guarding"
)
# Toasts stay until dismissed while a test looks at them (a busy machine can take longer than
# their 8 to 15 s between two steps); the page's own toasts module, configured.
KEEP_TOASTS = """async () => {
  const { LIFETIME } = await import('/static/js/toasts.js');
  for (const tone of Object.keys(LIFETIME)) LIFETIME[tone] = 600000;
}"""
# Toasts raised through the page's own toasts module (the same module instance app.js uses).
RAISE = """async ([n, text]) => {
  const { toast } = await import('/static/js/toasts.js');
  for (let i = 0; i < n; i += 1)
    toast('warning', `${text} #${i + 1}`, 'detail', { kindTag: 'test-warning' });
}"""


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


async def box(locator: Locator) -> dict[str, float]:
    found = await locator.bounding_box()
    assert found is not None, f"{locator} has no box"
    return dict(found)


def shown_toasts(page: Page) -> Locator:
    return page.locator("[data-testid=toast]:visible")


# One atomic look at the stack: (toasts in all, toasts shown, the counter's text). A real alert
# (a symbol stale for a moment on a busy machine) may join the test's toasts at any time, so
# the tests check the counter against the count, never a fixed number.
COUNTS = """() => {
  const all = [...document.querySelectorAll('[data-testid=toast]')];
  const more = document.querySelector('[data-testid=toast-more]');
  return [all.length, all.filter((e) => !e.hidden).length,
          more && !more.hidden ? more.textContent : ''];
}"""


async def assert_three_shown_rest_counted(page: Page, at_least: int) -> int:
    total, shown, more = await page.evaluate(COUNTS)
    assert total >= at_least, (total, at_least)
    assert shown == 3, (total, shown, more)
    assert more == f"+{total - 3} more", (total, shown, more)
    return int(total)


async def entry_price(dashboard: Dashboard, trade_id: str) -> float:
    trades = dashboard.stack.service.active_trades("desk")
    return float(next(t["entry_price"] for t in trades if t["trade_id"] == trade_id))


async def realized(service: TradeService, trade_id: str) -> str:
    history = await service.trade_history("desk", 50)
    return str(next(h["pnl"] for h in history if h["trade_id"] == trade_id))


def rupees(amount: str) -> str:
    """The dashboard's P&L text for a decimal string: +₹1,234.50 / −₹110.00."""
    value = float(amount)
    sign = "+" if value > 0 else "−" if value < 0 else ""
    return f"{sign}₹{abs(value):,.2f}"


async def assert_clear_of(page: Page, others: list[Locator]) -> None:
    toasts = page.locator("[data-testid=toast]:visible, [data-testid=toast-more]:visible")
    for index in range(await toasts.count()):
        toast_box = await box(toasts.nth(index))
        for other in others:
            for item in range(await other.count()):
                other_box = await box(other.nth(item))
                assert not boxes_overlap(toast_box, other_box), (
                    f"toast {index} {toast_box} covers {other} {other_box}"
                )


@pytest.mark.asyncio
async def test_phone_toasts_are_compact_counted_and_never_cover_or_block_the_trades(
    dashboard: Dashboard, browser: Browser
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    await dashboard.trade("SBIN", "BUY", 10, "momentum")
    tcs = await dashboard.trade("TCS", "BUY", 2, "momentum")
    await dashboard.trade("INFY", "BUY", 5, "momentum")
    page = await new_page(browser, *PHONE)
    try:
        await sign_in(page, dashboard)
        await page.evaluate(KEEP_TOASTS)
        cards = page.get_by_test_id("trade-card")
        await expect(cards).to_have_count(3)
        await page.evaluate(RAISE, [3, LONG_WARNING])
        dashboard.stack.price("SBIN", "789")  # a real stop-loss exit: the fourth toast
        closed = page.locator("[data-testid=toast][data-kind=exit][data-closed=true]")
        await expect(closed.filter(has_text="SBIN")).to_have_count(1)
        entry = await entry_price(dashboard, tcs)
        dashboard.stack.price("TCS", f"{entry + 51:.2f}")  # through its target: the fifth
        await expect(closed.filter(has_text="TCS")).to_have_count(1)
        await expect(cards).to_have_count(1)
        await expect(shown_toasts(page)).to_have_count(3)
        total = await assert_three_shown_rest_counted(page, 5)
        await expect(closed.filter(has_text="TCS")).to_have_attribute("data-tone", "profit")
        await expect(closed.filter(has_text="SBIN")).to_have_attribute("data-tone", "loss")
        shown_exits = page.locator("[data-testid=toast][data-kind=exit]:visible")
        assert await shown_exits.count() >= 1
        for index in range(await shown_exits.count()):  # the P&L stays whole on the line
            await expect(shown_exits.nth(index).get_by_test_id("toast-amount")).to_be_visible()

        header = await box(page.locator("header"))
        toasts = shown_toasts(page)
        for index in range(3):
            line = await box(toasts.nth(index))
            assert line["height"] <= 32, f"toast {index} is not one compact line: {line}"
            assert line["x"] >= 0, line
            assert line["x"] + line["width"] <= PHONE[0], line
            assert line["y"] + line["height"] <= header["y"] + header["height"], (
                f"toast {index} {line} reaches below the header {header}"
            )
        await assert_clear_of(page, [cards, page.get_by_test_id("trades-panel")])
        # a cut-short warning keeps its whole text for whoever asks (title / accessible name)
        warning = page.locator("[data-testid=toast][data-kind=test-warning]").first
        assert LONG_WARNING in (await warning.get_attribute("title") or "")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(
            path=str(ARTIFACTS / "dashboard-toasts-phone.png"), animations="disabled"
        )

        # every tap reaches the page: the header tabs under the toasts, and a trade's Edit
        await cards.first.get_by_role("button", name="Edit").click()
        await expect(page.get_by_test_id("edit-dialog")).to_be_visible()
        await page.get_by_test_id("edit-dialog").get_by_role("button", name="Cancel").click()
        await page.locator("nav.md\\:hidden [data-tab=history]").click()
        await expect(page).to_have_url(re.compile(r"#history$"))
        await page.locator("nav.md\\:hidden [data-tab=live]").click()

        # the dismiss button is the one thing that takes a tap: the counted ones move up
        newest = shown_toasts(page).first
        dismissed = await newest.get_by_test_id("toast-title").inner_text()
        await newest.get_by_role("button", name="Dismiss").click()
        await expect(page.locator("[data-testid=toast]", has_text=dismissed)).to_have_count(0)
        await assert_three_shown_rest_counted(page, total - 1)

        # the Events page and its kind filter fit the phone: nothing scrolls sideways
        await page.locator("nav.md\\:hidden [data-tab=events]").click()
        await expect(page.get_by_test_id("events-filter")).to_be_visible()
        await expect(
            page.get_by_test_id("events-list").locator("[data-kind=closed]")
        ).to_have_count(2)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE[0], f"the Events page scrolls sideways on a phone ({width}px)"
    finally:
        await close_page(page)


@pytest.mark.asyncio
async def test_exit_toasts_are_red_for_a_loss_green_for_a_profit_with_the_realized_pnl(
    dashboard: Dashboard, page: Page
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    loser = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    winner = await dashboard.trade("INFY", "SELL", 4, "momentum")
    await dashboard.trade("TCS", "BUY", 2, "momentum")
    await sign_in(page, dashboard)
    await page.evaluate(KEEP_TOASTS)
    await expect(page.get_by_test_id("trade-row")).to_have_count(3)

    dashboard.stack.price("SBIN", "789")  # through the stop at 790
    loss = page.locator("[data-testid=toast][data-kind=exit][data-closed=true]").filter(
        has_text="SBIN"
    )
    await expect(loss).to_have_count(1)
    await expect(loss).to_have_attribute("data-tone", "loss")
    await expect(loss).to_have_class(re.compile(r"\balert-error\b"))
    await expect(loss).to_contain_text("Stop loss")
    await expect(loss).to_contain_text(rupees(await realized(dashboard.stack.service, loser)))
    assert float(await realized(dashboard.stack.service, loser)) < 0

    infy_entry = await entry_price(dashboard, winner)
    dashboard.stack.price("INFY", f"{infy_entry - 60:.2f}")  # a short: through its target
    profit = page.locator("[data-testid=toast][data-kind=exit][data-closed=true]").filter(
        has_text="INFY"
    )
    await expect(profit).to_have_count(1)
    await expect(profit).to_have_attribute("data-tone", "profit")
    await expect(profit).to_have_class(re.compile(r"\balert-success\b"))
    await expect(profit).to_contain_text("Target")
    await expect(profit).to_contain_text(rupees(await realized(dashboard.stack.service, winner)))

    # an alert toast is amber, and nothing on a desk covers the events rail or the trade list
    await page.evaluate(RAISE, [3, LONG_WARNING])
    await expect(shown_toasts(page)).to_have_count(3)
    await assert_three_shown_rest_counted(page, 5)
    warning = shown_toasts(page).filter(has_text="#3")
    await expect(warning).to_have_class(re.compile(r"\balert-warning\b"))
    await expect(warning).to_contain_text(LONG_WARNING)  # wrapped, never cut short
    title = await box(warning.get_by_test_id("toast-title"))
    assert title["height"] > 24, "a long warning wraps on a desk"
    await assert_clear_of(
        page, [page.get_by_test_id("events-rail"), page.get_by_test_id("trades-panel")]
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-toasts-desk.png"), animations="disabled")


def rail(page: Page) -> Locator:
    return page.get_by_test_id("events-rail")


@pytest.mark.asyncio
async def test_the_rail_shows_the_exit_folds_level_moves_and_names_a_closed_trade(
    dashboard: Dashboard, browser: Browser
) -> None:
    await dashboard.strategy("momentum")  # stop 10, target 50, trailing 5 points
    trade_id = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    page = await new_page(browser, *DESK)
    try:
        await sign_in(page, dashboard)
        row = page.locator(f"#trades-body tr[data-trade-id='{trade_id}']")
        for value, stop in (("806", "801.00"), ("812", "807.00"), ("820", "815.00")):
            dashboard.stack.price("SBIN", value)
            await expect(row.locator("[data-f=stop_loss]")).to_have_text(stop)
        moves = rail(page).locator("[data-kind=moves]")
        await expect(moves).to_have_count(1)  # one line for the trade, however many moves
        await expect(moves).to_contain_text("SBIN")
        await expect(moves).to_contain_text("815.00")
        await expect(rail(page).locator("[data-kind=level]")).to_have_count(0)

        dashboard.stack.price("SBIN", "814")  # through the trailing stop
        closed = rail(page).locator("[data-kind=closed]")
        await expect(closed).to_have_count(1)
        await expect(closed).to_contain_text("SBIN")
        await expect(closed).to_contain_text("Trailing stop")
        await expect(closed).to_contain_text("level updates")
        pnl = rupees(await realized(dashboard.stack.service, trade_id))
        await expect(closed).to_contain_text(pnl)
        await expect(rail(page).locator("[data-kind=exit]")).to_have_count(0)  # one line
        await expect(rail(page).locator("[data-kind=moves]")).to_have_count(0)

        # the toggle shows every move, each with the symbol of the (now closed) trade
        await page.get_by_test_id("rail-levels").check()
        levels = rail(page).locator("[data-kind=level]")
        await expect(levels.first).to_be_visible()
        assert await levels.count() >= 3
        for text in await levels.all_inner_texts():
            assert "SBIN" in text, text
            assert "trade " not in text, text
        await page.get_by_test_id("rail-levels").uncheck()
    finally:
        await close_page(page)

    # a fresh page knows the trade only from the server's events: still the symbol
    page = await new_page(browser, *DESK)
    try:
        await sign_in(page, dashboard)
        await expect(rail(page).locator("[data-kind=closed]")).to_contain_text("SBIN")
        await page.goto(dashboard.url + "/#events")
        listing = page.get_by_test_id("events-list")
        filters = page.get_by_test_id("events-filter")
        await filters.get_by_role("button", name=re.compile("^Level moves")).click()
        await expect(listing.locator("[data-kind=level]").first).to_be_visible()
        kinds = await listing.locator("li").evaluate_all("els => els.map(e => e.dataset.kind)")
        assert set(kinds) == {"level"}, kinds
        for text in await listing.locator("li").all_inner_texts():
            assert "SBIN" in text, text
        await filters.get_by_role("button", name=re.compile("^Exits")).click()
        await expect(listing.locator("[data-kind=closed]")).to_contain_text(pnl)
        kinds = await listing.locator("li").evaluate_all("els => els.map(e => e.dataset.kind)")
        assert set(kinds) <= {"exit", "closed"}, kinds
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-events.png"), animations="disabled")
    finally:
        await close_page(page)
