"""Tests (API): the dashboard's broker view and guard-position endpoints, partial exits over
the REST API and the dashboard, and the audit-log endpoint, against the embedded simulator
(an order placed straight at the simulator with its own API key makes a position tradeguard
does not guard)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.api.test_dashboard import logged_in
from tests.helpers import eventually


async def place_at_simulator(api: Api, quantity: int, action: str = "BUY") -> str:
    """An order placed at the simulator by another tool (its own API key, not tradeguard)."""
    sim = api.stack.sim
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=10.0) as client:
        reply = await client.post(
            "/api/v1/placeorder",
            json={
                "apikey": sim.apikey,
                "strategy": "manual",
                "symbol": "SBIN",
                "exchange": "NSE",
                "action": action,
                "quantity": str(quantity),
                "pricetype": "MARKET",
                "product": "MIS",
            },
        )
    assert reply.status_code == 200, reply.text
    order_id: str = reply.json()["orderid"]
    return order_id


@pytest.mark.asyncio
async def test_broker_view_and_guard_position_over_the_dashboard_api(api: Api) -> None:
    await api.strategy("s1")
    await place_at_simulator(api, 10)
    async with logged_in(api) as (client, token):
        headers = {"X-CSRF-Token": token}

        async def unguarded_sbin() -> dict[str, Any] | None:
            reply = await client.get("/ui/api/broker?refresh=true")
            assert reply.status_code == 200, reply.text
            rows = [p for p in reply.json()["data"]["positions"] if p["symbol"] == "SBIN"]
            return rows[0] if rows and rows[0]["unguarded"] == 10 else None

        row = await eventually(unguarded_sbin, message="the position at the broker")
        assert (row["status"], row["guarded"], row["product"]) == ("UNGUARDED", 0, "MIS")
        body = {"strategy": "s1", "symbol": "SBIN", "exchange": "NSE", "product": "MIS"}
        forged = await client.post("/ui/api/broker/guard", json=body)
        assert forged.status_code == 403  # CSRF like every other dashboard action
        bad = await client.post(
            "/ui/api/broker/guard", json={**body, "quantity": 0}, headers=headers
        )
        assert bad.status_code == 400
        unknown = await client.post(
            "/ui/api/broker/guard", json={**body, "nope": 1}, headers=headers
        )
        assert unknown.status_code == 400
        assert api.stack.service.active_trades("alice") == []  # refused input changed nothing
        made = await client.post("/ui/api/broker/guard", json=body, headers=headers)
        assert made.status_code == 200, made.text
        trade = made.json()["data"]
        assert (trade["quantity"], trade["entry_price"], trade["stop_loss"]) == (
            10,
            "800.00",
            "790.00",
        )
        again = await client.post("/ui/api/broker/guard", json=body, headers=headers)
        assert again.status_code == 409
        assert "nothing unguarded" in again.json()["message"]
        view = (await client.get("/ui/api/broker")).json()["data"]
        [row] = [p for p in view["positions"] if p["symbol"] == "SBIN"]
        assert row["status"] == "GUARDED"
        assert row["trades"][0]["trade_id"] == trade["trade_id"]
    # bob sees the position as guarded (by another account), never alice's trade
    async with logged_in(api, "bob") as (client, _):
        view = (await client.get("/ui/api/broker")).json()["data"]
        [row] = [p for p in view["positions"] if p["symbol"] == "SBIN"]
        assert (row["status"], row["trades"], row["other_accounts"]) == ("GUARDED", [], 10)


@pytest.mark.asyncio
async def test_partial_exit_over_rest_and_the_dashboard(api: Api) -> None:
    await api.strategy("s1")
    order_id = await place_at_simulator(api, 10)

    async def guarded() -> dict[str, Any]:
        view: dict[str, Any] = await api.data(
            "createtrade", {"strategy": "s1", "orderid": order_id}
        )
        return view

    trade = await guarded()
    trade_id = trade["trade_id"]
    await api.stack.wait_subscribed("SBIN")
    for bad in ({"quantity": 0}, {"quantity": "x"}, {"quantity": True}):
        reply = await api.post("exittrade", {"trade_id": trade_id, **bad})
        assert reply.status_code == 400, bad
    too_many = await api.post("exittrade", {"trade_id": trade_id, "quantity": 10})
    assert too_many.status_code == 400
    assert "1 to 9 of the open 10" in too_many.json()["message"]
    other = await api.post("exittrade", {"trade_id": trade_id, "quantity": 3}, account="bob")
    assert other.status_code == 404
    rest = await api.data("exittrade", {"trade_id": trade_id, "quantity": 3})
    assert (rest["quantity"], rest["state"], rest["part"]["quantity"]) == (7, "ACTIVE", 3)
    async with logged_in(api) as (client, token):
        reply = await client.post(
            f"/ui/api/trades/{trade_id}/exit", json={"quantity": 2}, headers={"X-CSRF-Token": token}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["data"]["quantity"] == 5

        async def net_is_five() -> bool:
            return await api.stack.gateway.open_position("SBIN", "NSE", "MIS", "s1") == 5

        await eventually(net_is_five, message="two parts exited")

        async def only_the_rest_open() -> bool:
            # the parts close when their fill reports arrive, which may lag the position book
            return len(await api.data("activetrades", {})) == 1

        await eventually(only_the_rest_open, message="the exited parts closed")
        [left] = await api.data("activetrades", {})
        assert (left["trade_id"], left["quantity"], left["stop_loss"]) == (
            trade_id,
            5,
            trade["stop_loss"],
        )
        log = (await client.get(f"/ui/api/audit?trade_id={trade_id}")).json()["data"]
        partials = [e for e in log["entries"] if e["action"] == "partial_exit"]
        assert [(e["actor"], e["detail"]["quantity"]) for e in partials] == [
            ("user:alice", 2),
            ("api:alice", 3),
        ]


@pytest.mark.asyncio
async def test_audit_log_endpoint_filters_and_pages(api: Api) -> None:
    await api.strategy("s1")
    await api.strategy("s2")
    first = await api.trade(strategy="s1")
    await api.trade(strategy="s2")
    await api.data("updatetrade", {"trade_id": first["trade_id"], "rules": {"target": None}})
    async with logged_in(api) as (client, _):

        async def get(query: str, expect: int = 200) -> Any:
            reply = await client.get(f"/ui/api/audit{query}")
            assert reply.status_code == expect, reply.text
            return reply.json().get("data") or reply.json().get("message")

        page = await get("?limit=2")
        assert len(page["entries"]) == 2
        assert page["next_before"] is not None
        newest = page["entries"][0]
        assert (newest["action"], newest["actor"], newest["trade_id"]) == (
            "trade_updated",
            "api:alice",
            first["trade_id"],
        )
        assert "target" in newest["detail"]["before"]
        assert "target" not in newest["detail"]["after"]
        rest = await get(f"?limit=500&before={page['next_before']}")
        ids = [e["id"] for e in page["entries"] + rest["entries"]]
        assert ids == sorted(ids, reverse=True)
        assert rest["next_before"] is None
        s2 = await get("?strategy=s2")
        assert {e["strategy"] or e["trade_id"] for e in s2["entries"]} >= {"s2"}
        assert first["trade_id"] not in {e["subject"] for e in s2["entries"]}
        assert "not found" in await get("?strategy=nope", expect=404)
        await get("?limit=0", expect=400)
        await get("?before=0", expect=400)
        await get("?trade_id=bad%20id", expect=400)
    async with logged_in(api, "bob") as (client, _):
        reply = await client.get(f"/ui/api/audit?trade_id={first['trade_id']}")
        assert reply.json()["data"]["entries"] == []
