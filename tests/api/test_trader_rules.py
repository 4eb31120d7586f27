"""Tests (API): rules a trader can trust, through the whole stack: a paused strategy still
guards its open trades and refuses new ones; lock-in-profit edits and one-click actions."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.helpers import eventually


@pytest.mark.asyncio
async def test_a_stop_crossed_while_paused_exits_and_new_trades_are_refused(api: Api) -> None:
    await api.strategy("s1")
    trade = await api.trade()  # SBIN LONG 800, stop 790
    await api.stack.wait_subscribed("SBIN")
    paused = await api.data("strategy/pause", {"strategy": "s1"})
    assert paused["state"] == "PAUSED"
    reply = await api.post(
        "createtrade",
        {
            "strategy": "s1",
            "symbol": "INFY",
            "exchange": "NSE",
            "action": "BUY",
            "quantity": "1",
            "price": "1500",
        },
    )
    assert reply.status_code == 409, reply.text
    assert "PAUSED" in reply.json()["message"]
    api.stack.price("SBIN", "785")

    async def stopped() -> bool:
        history = await api.data("tradehistory", {})
        return any(
            h["trade_id"] == trade["trade_id"] and h["exit_reason"] == "STOP_LOSS" for h in history
        )

    await eventually(stopped, message="stop fired while paused")
