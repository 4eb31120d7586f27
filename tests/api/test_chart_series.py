"""Tests (dashboard backend): the chart history endpoints GET /ui/api/trades/{id}/series and
GET /ui/api/strategies/{name}/series over the real stack: a trade's series starts at its entry
and follows the simulator's price; another account's trade or strategy is not found."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_dashboard import logged_in
from tests.helpers import eventually


@pytest.mark.asyncio
async def test_trade_and_strategy_series_follow_the_market(api: Api) -> None:
    await api.strategy("s1")
    trailing = {"type": "POINTS", "value": "5", "activation": {"type": "POINTS", "value": "10"}}
    trade = await api.trade(rules={"trailing": trailing})
    assert trade["trail_arms_at"] == "810.00"  # the trail arms once the price reaches 810
    assert trade["trailing_stop"] is None
    trade_id = trade["trade_id"]
    async with logged_in(api) as (client, _):

        async def series(path: str) -> dict[str, Any]:
            reply = await client.get(f"/ui/api/{path}/series")
            assert reply.status_code == 200, reply.text
            data: dict[str, Any] = reply.json()["data"]
            return data

        await api.move("SBIN", "804")

        async def moved() -> bool:
            points = (await series(f"trades/{trade_id}"))["points"]
            return points[0][1] == "800.00" and points[-1][1] == "804.00"

        await eventually(moved, message="the trade's series at 804")
        await api.move("SBIN", "803")

        async def pnl_seen() -> bool:
            points = (await series("strategies/s1"))["points"]
            return any(value == "30.00" for _, value in points)  # 10 x (803 - 800)

        await eventually(pnl_seen, message="the strategy's P&L series at +30")
        points = (await series(f"trades/{trade_id}"))["points"]
        times = [at for at, _ in points]
        assert times == sorted(set(times))
        assert (await client.get("/ui/api/trades/Tnope/series")).status_code == 404
        assert (await client.get("/ui/api/strategies/ghost/series")).status_code == 404


@pytest.mark.asyncio
async def test_another_accounts_series_are_not_found(api: Api) -> None:
    await api.strategy("s1", account="bob")
    bob_trade = await api.trade(account="bob")
    async with logged_in(api, "alice") as (client, _):
        reply = await client.get(f"/ui/api/trades/{bob_trade['trade_id']}/series")
        assert reply.status_code == 404
        assert (await client.get("/ui/api/strategies/s1/series")).status_code == 404
    assert (await api.client.get("/ui/api/trades/x/series")).status_code == 401
