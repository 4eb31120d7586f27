"""Tests: each live trade view carries a `version` that grows with every change of the view
(GET /ui/api/trades and /api/v1/activetrades alike) and stays the same while nothing changed;
the dashboard keeps the newer of two views by it (tests/browser/test_view_order.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_dashboard import logged_in


@pytest.mark.asyncio
async def test_a_trade_view_version_grows_with_each_change(api: Api) -> None:
    await api.strategy("s1")
    trade = await api.trade()
    async with logged_in(api) as (client, _):

        async def view() -> dict[str, Any]:
            reply = await client.get("/ui/api/trades")
            assert reply.status_code == 200, reply.text
            (only,) = reply.json()["data"]
            assert only["trade_id"] == trade["trade_id"]
            return dict(only)

        first = await view()
        assert isinstance(first["version"], int)
        assert (await view())["version"] == first["version"]  # nothing changed
        seen = [first["version"]]
        for price in ("801", "803", "802"):
            await api.move("SBIN", price)
            moved = await view()
            assert moved["last_price"] == f"{float(price):.2f}"
            assert moved["version"] > seen[-1]
            seen.append(moved["version"])
        (active,) = await api.data("activetrades", {})
        assert active["version"] == seen[-1]
