"""Tests (API): bad input answers 400 (or 413) and changes nothing, in memory or on disk.

Each case was once accepted (or answered 500 after changing state): integers too large for
the database, amounts whose view cannot be formatted, precision finer than a paisa's
hundredth, Unicode digits and underscores passed as numbers, and unbounded bodies.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api


async def _stored_config(api: Api, name: str) -> dict[str, Any]:
    loaded = await api.stack.store.load()
    record = next(r for r in loaded.strategies if r.name == name)
    return record.config


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_open_positions", 10**20),
        ("max_open_positions", "100000000000000000000"),
        ("max_open_positions", "²"),
        ("max_open_positions", "١٠"),
        ("max_open_positions", "1_0"),
        ("daily_loss_limit", "1e30"),
        ("daily_loss_limit", "0.00001"),
        ("daily_loss_limit", "8_00"),
        ("daily_loss_limit", "١٠٠"),
        ("allocated_funds", "1e30"),
        ("allocated_funds", "0.00001"),
        ("allocated_funds", 1e300),
        ("sl_value", "0.00001"),
        ("sl_value", "²"),
        ("portfolio_sl_value", "99999999999999999999999"),
        ("max_holding_minutes", 10**20),
        ("position_size_value", "1e30"),
        ("trailing_activation_value", "-1"),
    ],
)
async def test_configure_refuses_unusable_values_and_changes_nothing(
    api: Api, field: str, value: object
) -> None:
    before = await api.strategy("s1")
    stored = await _stored_config(api, "s1")
    reply = await api.post("strategy/configure", {"strategy": "s1", field: value})
    assert reply.status_code == 400, reply.text
    assert field in reply.json()["message"]
    after = await api.data("strategy/get", {"strategy": "s1"})
    assert after["config"] == before["config"]
    assert await _stored_config(api, "s1") == stored
    # every view of the account still answers
    assert len(await api.data("strategy/list", {})) == 1
    # and a later good configure still flushes
    changed = await api.data("strategy/configure", {"strategy": "s1", "max_open_positions": 3})
    assert changed["config"]["max_open_positions"] == 3


@pytest.mark.asyncio
async def test_a_refused_new_strategy_is_not_created(api: Api) -> None:
    reply = await api.post("strategy/configure", {"strategy": "s9", "daily_loss_limit": "1e30"})
    assert reply.status_code == 400, reply.text
    assert await api.data("strategy/list", {}) == []
    assert (await api.stack.store.load()).strategies == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "١٠"),
        ("quantity", "1_0"),
        ("quantity", "²"),
        ("price", "8_00"),
        ("price", "٨٠٠"),
        ("price", "800.00001"),
        ("price", "8e2"),
    ],
)
async def test_createtrade_takes_ascii_decimal_only(api: Api, field: str, value: str) -> None:
    await api.strategy()
    body = {
        "strategy": "s1",
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": "BUY",
        "quantity": "10",
        "price": "800",
        field: value,
    }
    reply = await api.post("createtrade", body)
    assert reply.status_code == 400, reply.text
    assert field in reply.json()["message"]
    assert await api.data("activetrades", {}) == []


@pytest.mark.asyncio
async def test_rule_values_take_ascii_decimal_only(api: Api) -> None:
    await api.strategy()
    trade = await api.trade()
    for value in ("1_0", "١٠", "²"):
        reply = await api.post(
            "updatetrade",
            {
                "trade_id": trade["trade_id"],
                "rules": {"stop_loss": {"type": "POINTS", "value": value}},
            },
        )
        assert reply.status_code == 400, (value, reply.text)
    [after] = await api.data("activetrades", {})
    assert after["stop_loss"] == trade["stop_loss"]


@pytest.mark.asyncio
async def test_an_oversized_body_is_refused_before_it_is_read(api: Api) -> None:
    padding = "x" * (2 * 1024 * 1024)
    reply = await api.client.post(
        "/api/v1/strategy/configure",
        content=b'{"apikey": "' + padding.encode() + b'"}',
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["status"] == "error"
    assert "64" in reply.json()["message"]


@pytest.mark.asyncio
async def test_an_oversized_body_without_a_length_is_refused(api: Api) -> None:
    async def chunks() -> Any:
        for _ in range(40):
            yield b" " * 4096

    reply = await api.client.post(
        "/api/v1/strategy/list",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413, reply.text
    # a normal request still works afterwards
    assert await api.data("strategy/list", {}) == []


@pytest.mark.asyncio
async def test_configure_checks_the_key_before_the_settings(api: Api) -> None:
    reply = await api.client.post(
        "/api/v1/strategy/configure",
        json={"apikey": "wrong-key", "strategy": "s1", "no_such_setting": [1]},
    )
    assert reply.status_code == 403, reply.text
    assert reply.json()["message"] == "Invalid apikey"
