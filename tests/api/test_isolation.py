"""Tests (API): one account's key can neither see, change nor exit another's trades and
strategies (the answer is the same 404 as for something that does not exist)."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api


@pytest.mark.asyncio
async def test_accounts_are_isolated(api: Api) -> None:
    await api.strategy("shared", account="alice")
    await api.strategy("shared", account="bob", sl_value="25")
    alice_trade = await api.trade(strategy="shared", account="alice")
    bob_trade = await api.trade(symbol="INFY", price="1500", strategy="shared", account="bob")

    assert [t["trade_id"] for t in await api.data("activetrades", {}, "alice")] == [
        alice_trade["trade_id"]
    ]
    assert [t["trade_id"] for t in await api.data("activetrades", {}, "bob")] == [
        bob_trade["trade_id"]
    ]
    alice_strategy = await api.data("strategy/get", {"strategy": "shared"}, "alice")
    assert alice_strategy["config"]["sl_value"] == "10"  # not bob's 25

    victim = alice_trade["trade_id"]
    for path, body in (
        ("exittrade", {"trade_id": victim}),
        ("updatetrade", {"trade_id": victim, "rules": {"stop_loss": None}}),
    ):
        reply = await api.post(path, body, account="bob")
        assert reply.status_code == 404, reply.text
        assert reply.json()["message"] == f"trade {victim!r} not found"

    # bob's exitall of "shared" exits only bob's trade
    exited = await api.data("strategy/exitall", {"strategy": "shared"}, "bob")
    assert [t["trade_id"] for t in exited] == [bob_trade["trade_id"]]
    mine = await api.data("activetrades", {}, "alice")
    assert mine[0]["trade_id"] == victim
    assert mine[0]["state"] == "ACTIVE"
    assert mine[0]["stop_loss"] == alice_trade["stop_loss"]
    assert all(h["account"] == "bob" for h in await api.data("tradehistory", {}, "bob"))
    assert await api.data("tradehistory", {}, "alice") == []
