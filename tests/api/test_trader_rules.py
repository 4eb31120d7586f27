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


@pytest.mark.asyncio
async def test_a_stop_beyond_the_entry_locks_profit(api: Api) -> None:
    """The issue's case: entry 1493.35, price 1508, stop 1498.35 was refused against the
    entry; a stop must be on the losing side of the current price."""
    await api.strategy("s1", enable_sl=False, enable_target=False)
    trade = await api.trade(symbol="INFY", price="1493.35", quantity="1")
    await api.move("INFY", "1508")
    view = await api.data(
        "updatetrade",
        {
            "trade_id": trade["trade_id"],
            "rules": {"stop_loss": {"type": "PRICE", "value": "1498.35"}},
        },
    )
    assert view["stop_loss"] == "1498.35"
    beyond = await api.post(
        "updatetrade",
        {"trade_id": trade["trade_id"], "rules": {"stop_loss": {"type": "PRICE", "value": "1508"}}},
    )
    assert beyond.status_code == 400, beyond.text
    assert "is not below" in beyond.json()["message"]


@pytest.mark.asyncio
async def test_one_click_stop_to_cost_and_lock_profit(api: Api) -> None:
    await api.strategy("s1")
    trade = await api.trade(symbol="INFY", price="1500", quantity="2")  # stop 1490
    trade_id = trade["trade_id"]
    await api.stack.wait_subscribed("INFY")
    await api.move("INFY", "1500")
    not_yet = await api.post("protecttrade", {"trade_id": trade_id, "action": "stop_to_cost"})
    assert not_yet.status_code == 400, not_yet.text
    assert "not in profit" in not_yet.json()["message"]
    await api.move("INFY", "1510")
    cost = await api.data("protecttrade", {"trade_id": trade_id, "action": "stop_to_cost"})
    assert cost["stop_loss"] == "1500.00"
    locked = await api.data("protecttrade", {"trade_id": trade_id, "action": "lock_profit"})
    assert locked["stop_loss"] == "1505.00"  # half of the 10.00 open profit
    tighter = await api.data(
        "protecttrade", {"trade_id": trade_id, "action": "lock_profit", "percent": 80}
    )
    assert tighter["stop_loss"] == "1508.00"
    for bad in ({"action": "panic"}, {"action": "lock_profit", "percent": 100}):
        reply = await api.post("protecttrade", {"trade_id": trade_id, **bad})
        assert reply.status_code == 400, reply.text
    [active] = await api.data("activetrades", {})
    assert active["stop_loss"] == "1508.00"
    api.stack.price("INFY", "1507.95")

    async def locked_in() -> bool:
        history = await api.data("tradehistory", {})
        return any(h["trade_id"] == trade_id and h["exit_reason"] == "STOP_LOSS" for h in history)

    await eventually(locked_in, message="exit at the locked stop")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("action", "rules", "fragment"),
    [
        ("BUY", {"stop_loss": {"type": "POINTS", "value": "5000"}}, "not above zero"),
        ("SELL", {"stop_loss": {"type": "PRICE", "value": "28000"}}, "more than twice the entry"),
        ("SELL", {"stop_loss": {"type": "POINTS", "value": "27200"}}, "100 %"),
        ("BUY", {"target": {"type": "POINTS", "value": "9000"}}, "10 times the entry"),
        ("SELL", {"target": {"type": "POINTS", "value": "800"}}, "not above zero"),
        ("BUY", {"trailing": {"type": "POINTS", "value": "800"}}, "less than the entry"),
        (
            "SELL",
            {"breakeven": {"trigger": {"type": "POINTS", "value": "900"}}},
            "less than the entry",
        ),
    ],
)
async def test_absurd_levels_are_refused_with_their_bound(
    api: Api, action: str, rules: dict[str, object], fragment: str
) -> None:
    await api.strategy("s1", enable_sl=False, enable_target=False)
    reply = await api.post(
        "createtrade",
        {
            "strategy": "s1",
            "symbol": "SBIN",
            "exchange": "NSE",
            "action": action,
            "quantity": "1",
            "price": "800",
            "rules": rules,
        },
    )
    assert reply.status_code == 400, reply.text
    assert fragment in reply.json()["message"]
    assert await api.data("activetrades", {}) == []
    trade = await api.trade(action=action)
    edit = await api.post("updatetrade", {"trade_id": trade["trade_id"], "rules": rules})
    assert edit.status_code == 400, edit.text
    [after] = await api.data("activetrades", {})
    assert after["rules"] == trade["rules"]
