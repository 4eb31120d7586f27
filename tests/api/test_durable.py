"""Tests (API): createtrade and updatetrade acknowledge only what is durable, and createtrade is
idempotent per (account, entry order id), over the real HTTP API and the whole stack.

- Two concurrent createtrade calls for one filled order: one trade, the other call gets 409
  with that trade's id (failure 5: both answered 200 with two trades).
- A retry after the first trade closed: 409 with the closed trade's id.
- Database locked and the journal unwritable: 503, and nothing exists afterwards (not in the
  monitor, not in the database once it is back); updatetrade likewise changes nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.api.conftest import Api
from tests.helpers import break_journal, eventually, sqlite_write_lock


async def _error(api: Api, path: str, body: dict[str, object], status: int) -> dict[str, object]:
    reply = await api.post(path, body)
    assert reply.status_code == status, reply.text
    payload: dict[str, object] = reply.json()
    assert payload["status"] == "error"
    return payload


def _db_file(api: Api) -> Path:
    return Path(str(api.stack.store.url).removeprefix("sqlite:///"))


def _break_journal(api: Api) -> None:
    """The journal stops taking writes (as a full or failed disk would)."""
    break_journal(api.stack.store)


@pytest.mark.asyncio
async def test_two_concurrent_createtrades_for_one_order_make_one_trade(api: Api) -> None:
    await api.strategy()
    order_id = await api.stack.fill_entry("SBIN", "BUY", 7)
    body = {"strategy": "s1", "orderid": order_id}
    first, second = await asyncio.gather(
        api.post("createtrade", body), api.post("createtrade", body)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409], (
        first.text,
        second.text,
    )
    created, refused = (first, second) if first.status_code == 200 else (second, first)
    trade_id = created.json()["data"]["trade_id"]
    assert refused.json()["data"] == {"trade_id": trade_id}
    trades = await api.data("activetrades", {})
    assert [t["trade_id"] for t in trades] == [trade_id]
    assert await api.stack.store.entry_trade("alice", order_id) == trade_id


@pytest.mark.asyncio
async def test_a_retry_after_the_trade_closed_is_refused_with_its_id(api: Api) -> None:
    await api.strategy()
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)
    trade_id = (await api.data("createtrade", {"strategy": "s1", "orderid": order_id}))["trade_id"]
    await api.data("exittrade", {"trade_id": trade_id})

    async def closed() -> bool:
        history = await api.data("tradehistory", {"limit": "10"})
        return any(h["trade_id"] == trade_id for h in history)

    await eventually(closed, message="trade closed")
    payload = await _error(api, "createtrade", {"strategy": "s1", "orderid": order_id}, 409)
    assert payload["data"] == {"trade_id": trade_id}
    assert trade_id in str(payload["message"])
    assert await api.data("activetrades", {}) == []
    # another account's use of the same order id is its own business
    await api.strategy(account="bob")
    reply = await api.post("createtrade", {"strategy": "s1", "orderid": order_id}, "bob")
    assert reply.status_code != 409, reply.text


@pytest.mark.asyncio
async def test_explicit_createtrade_without_an_order_id_is_not_deduplicated(api: Api) -> None:
    await api.strategy()
    one = await api.trade()
    two = await api.trade()
    assert one["trade_id"] != two["trade_id"]


@pytest.mark.asyncio
async def test_createtrade_answers_503_and_creates_nothing_when_nothing_can_store_it(
    api: Api,
) -> None:
    await api.strategy()
    store = api.stack.store
    body = {"strategy": "s1", "symbol": "SBIN", "exchange": "NSE", "action": "BUY"}
    with sqlite_write_lock(_db_file(api)):
        _break_journal(api)
        payload = await _error(api, "createtrade", {**body, "quantity": 10, "price": 800}, 503)
        assert "journal" in str(payload["message"])
        assert await api.data("activetrades", {}) == []
        assert api.stack.service.health()["status"] == "degraded"
    await eventually(lambda: not store.degraded or store.pending == 0, message="db back")
    assert await api.data("activetrades", {}) == []
    assert await store.history(None, 10) == []
    assert (await store.load()).trades == []
    assert not [e for e in await store.audit_entries() if e.action == "trade_created"]


@pytest.mark.asyncio
async def test_updatetrade_answers_503_and_changes_nothing_when_nothing_can_store_it(
    api: Api,
) -> None:
    await api.strategy()
    view = await api.trade()
    store = api.stack.store
    change = {"trade_id": view["trade_id"], "rules": {"stop_loss": {"type": "POINTS", "value": 5}}}
    with sqlite_write_lock(_db_file(api)):
        _break_journal(api)
        await _error(api, "updatetrade", change, 503)
        [now] = await api.data("activetrades", {})
        assert now["stop_loss"] == view["stop_loss"]
        assert now["rules"] == view["rules"]
    await eventually(lambda: store.pending == 0, message="queue empty")
    stored = await store.trade(view["trade_id"])
    assert stored is not None
    assert stored.rules["stop_loss"] == {"type": "POINTS", "value": "10"}
