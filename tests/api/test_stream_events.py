"""Tests (dashboard stream): what the trade events carry for toasts and the events rail: the
symbol on every level move (also once the trade is closed and gone from the book), the open
P&L on an exit, and a `closed` event with the realized P&L, equal to the trade history's."""

from __future__ import annotations

from typing import Any

import pytest
import websockets

from tests.api.conftest import Api
from tests.api.test_dashboard import logged_in
from tests.api.test_stream import next_message
from tests.helpers import eventually

TRAILING = {"enable_trailing_sl": True, "trailing_sl_type": "POINTS", "trailing_sl_value": "5"}


@pytest.mark.asyncio
async def test_level_exit_and_closed_events_name_the_symbol_and_the_realized_pnl(
    api: Api,
) -> None:
    await api.strategy("s1", target_value="50", **TRAILING)
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)
    trade = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    trade_id = trade["trade_id"]
    async with logged_in(api) as (client, _):
        cookie = f"tg_session={client.cookies['tg_session']}"
    url = api.url.replace("http", "ws") + "/ui/stream"
    async with websockets.connect(url, additional_headers={"Cookie": cookie}) as ws:
        await next_message(ws, "snapshot")
        await api.move("SBIN", "820")  # best 820: the trail lifts the stop to 815
        level = await next_message(ws, "level", lambda d: d.get("stop_loss") == "815.00")
        assert level["data"]["trade_id"] == trade_id
        assert level["data"]["symbol"] == "SBIN"
        assert level["data"]["exchange"] == "NSE"

        api.stack.price("SBIN", "814")  # through the trailing stop, in profit
        exit_event = await next_message(ws, "exit", lambda d: d["trade_id"] == trade_id)
        assert exit_event["data"]["reason"] == "TRAILING_STOP"
        assert exit_event["data"]["symbol"] == "SBIN"
        assert exit_event["data"]["open_pnl"] == "140.00"  # (814 - 800) x 10 at the last price

        closed = await next_message(ws, "closed", lambda d: d["trade_id"] == trade_id)
    data = closed["data"]
    assert data["symbol"] == "SBIN"
    assert data["strategy"] == "s1"
    assert data["state"] == "CLOSED"
    assert data["reason"] == "TRAILING_STOP"
    assert data["side"] == "LONG"
    assert data["quantity"] == 10
    history = await api.stack.service.trade_history("alice", 10)
    row = next(h for h in history if h["trade_id"] == trade_id)
    assert data["realized_pnl"] == row["pnl"]
    assert data["exit_price"] == row["exit_price"]
    assert float(data["realized_pnl"]) > 0

    # after the close the trade is gone from the book, yet its logged events still name it
    recent = api.stack.service.recent_events("alice")
    mine = [e for e in recent if e["data"].get("trade_id") == trade_id]
    assert {e["kind"] for e in mine} >= {"level", "exit", "closed"}
    assert all(e["data"]["symbol"] == "SBIN" for e in mine)


@pytest.mark.asyncio
async def test_a_stop_loss_exit_is_closed_with_a_loss(api: Api) -> None:
    await api.strategy("s1")
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)
    trade = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    await api.move("SBIN", "801")
    api.stack.price("SBIN", "789")  # through the stop at 790

    def closed() -> dict[str, Any] | None:
        for event in api.stack.service.recent_events("alice"):
            if event["kind"] == "closed" and event["data"]["trade_id"] == trade["trade_id"]:
                return event
        return None

    event = await eventually(closed, message="the closed event")
    assert event["data"]["reason"] == "STOP_LOSS"
    assert float(event["data"]["realized_pnl"]) < 0
    assert not any(  # never shown to another account
        e["kind"] == "closed" for e in api.stack.service.recent_events("bob")
    )
