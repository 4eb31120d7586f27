"""Browser test: a `GET /ui/api/trades` reply that arrives after a newer stream update does
not put the older view back. The reply is held (Playwright route) while the stream delivers
a new price; once released, the row keeps the newer price and distances (each trade view
carries a growing `version`; static/js/view_order.js keeps the newer one)."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Route, WebSocket, expect

from tests.browser.conftest import Dashboard, close_page, new_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser-view_order")]


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desk", "phone"])
async def test_a_late_trades_reply_does_not_replace_a_newer_stream_view(
    dashboard: Dashboard, browser: Browser, size: tuple[int, int]
) -> None:
    await dashboard.strategy("momentum", enable_trailing_sl=False)
    sbin = await dashboard.trade("SBIN", "BUY", 10, "momentum")
    page = await new_page(browser, *size)
    release = asyncio.Event()
    held = asyncio.Event()

    async def hold(route: Route) -> None:
        reply = await route.fetch()  # the view as it is now: SBIN at 800
        held.set()
        await release.wait()
        await route.fulfill(response=reply)

    await page.route("**/ui/api/trades", hold)
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    kind = "trade-card" if size[0] < 800 else "trade-row"
    row = page.locator(f"[data-testid={kind}][data-trade-id='{sbin}']")
    try:
        await sign_in(page, dashboard)
        await held.wait()
        await expect(row.locator("[data-f=stop_dist]")).to_have_text("−₹10.00 · −1.25%")
        dashboard.stack.price("SBIN", "820")  # newer: pushed by the stream
        await expect(row.locator("[data-f=stop_dist]")).to_have_text("−₹30.00 · −3.66%")
        # refreshAll asks for the health report (on the stream) once it has applied the reply
        stream = [socket for socket in sockets if socket.url.endswith("/ui/stream")][-1]
        async with stream.expect_event("framesent", lambda sent: '"health"' in str(sent)):
            release.set()
        await expect(row.locator("[data-f=stop_dist]")).to_have_text("−₹30.00 · −3.66%")
        assert "−₹10.00" not in (await row.locator("[data-f=stop_dist]").inner_text())
    finally:
        release.set()
        await close_page(page)
