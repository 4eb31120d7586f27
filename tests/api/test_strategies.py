"""Tests (API): strategy endpoints: configure, get, list, pause, resume, exitall."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.helpers import eventually


async def _status(api: Api, path: str, body: dict[str, object]) -> tuple[int, str]:
    reply = await api.post(path, body)
    payload = reply.json()
    return reply.status_code, str(payload.get("message") or payload.get("data"))


@pytest.mark.asyncio
async def test_configure_creates_then_changes_only_given_settings(api: Api) -> None:
    created = await api.strategy("s1", allocated_funds="100000")
    assert created["config"]["sl_value"] == "10"
    assert created["state"] == "ACTIVE"
    changed = await api.data(
        "strategy/configure", {"strategy": "s1", "target_value": 30, "enable_sl": "false"}
    )
    assert changed["config"]["target_value"] == "30"
    assert changed["config"]["enable_sl"] is False
    assert changed["config"]["allocated_funds"] == "100000"  # kept
    got = await api.data("strategy/get", {"strategy": "s1"})
    assert got["config"] == changed["config"]
    await api.strategy("s2")
    names = [s["strategy"] for s in await api.data("strategy/list", {})]
    assert sorted(names) == ["s1", "s2"]


@pytest.mark.asyncio
async def test_configure_refuses_bad_settings_and_changes_nothing(api: Api) -> None:
    before = await api.strategy("s1")
    cases: list[tuple[dict[str, object], str]] = [
        ({"strategy": "s1", "no_such_setting": 1}, "unknown field"),
        ({"strategy": "s1", "sl_type": "SIDEWAYS"}, "sl_type"),
        ({"strategy": "s1", "sl_value": "abc"}, "sl_value"),
        ({"strategy": "s1", "max_open_positions": "many"}, "max_open_positions"),
        ({"strategy": "s1", "sl_value": [1]}, "sl_value"),
        ({"strategy": "bad name!"}, "strategy"),
        ({}, "strategy"),
    ]
    for body, fragment in cases:
        status, message = await _status(api, "strategy/configure", body)
        assert status == 400, (body, message)
        assert fragment in message, (body, message)
    after = await api.data("strategy/get", {"strategy": "s1"})
    assert after["config"] == before["config"]


@pytest.mark.asyncio
async def test_unknown_strategy_is_404_everywhere(api: Api) -> None:
    for path in ("strategy/get", "strategy/exitall", "strategy/pause", "strategy/resume"):
        status, message = await _status(api, path, {"strategy": "ghost"})
        assert status == 404, (path, message)
        assert "ghost" in message


@pytest.mark.asyncio
async def test_pause_resume_and_wrong_state(api: Api) -> None:
    await api.strategy("s1")
    paused = await api.data("strategy/pause", {"strategy": "s1"})
    assert paused["state"] == "PAUSED"
    status, message = await _status(api, "strategy/pause", {"strategy": "s1"})
    assert status == 409, message
    resumed = await api.data("strategy/resume", {"strategy": "s1"})
    assert resumed["state"] == "ACTIVE"
    status, message = await _status(api, "strategy/resume", {"strategy": "s1"})
    assert status == 409
    assert "ACTIVE" in message


@pytest.mark.asyncio
async def test_exitall_exits_every_open_trade(api: Api) -> None:
    await api.strategy("s1")
    for symbol, quantity in (("SBIN", 10), ("INFY", 5)):
        order_id = await api.stack.fill_entry(symbol, "BUY", quantity)
        await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    exiting = await api.data("strategy/exitall", {"strategy": "s1"})
    assert len(exiting) == 2

    async def all_closed() -> bool:
        return (
            await api.data("activetrades", {}) == []
            and len(await api.data("tradehistory", {})) == 2
        )

    await eventually(all_closed, message="both trades closed")
    history = await api.data("tradehistory", {})
    assert {h["exit_reason"] for h in history} == {"MANUAL_ALL"}
