"""Semi-auto mode and the Action Center over the real REST stack: placeorder and
placesmartorder queue the order (OpenAlgo's reply: `pending_order_id`, no `orderid`), nothing
is placed until `/sim/admin/pending` approves it; a rejected or decided order stays decided."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sim.admin import set_faults
from tests.sim.timed import Timed, order_body, timed_sim

QUEUED = {
    "status": "success",
    "message": "Order queued for approval in Action Center",
    "mode": "semi_auto",
}


async def decide(t: Timed, body: Any) -> httpx.Response:
    return await t.http.post("/sim/admin/pending", json=body)


async def pending_rows(t: Timed) -> list[dict[str, Any]]:
    response = await t.http.get("/sim/admin/pending")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


@pytest.mark.asyncio
async def test_a_queued_order_is_placed_only_when_approved() -> None:
    async with timed_sim() as t:
        await set_faults(t.http, semi_auto=True)
        queued = await t.post("placeorder", **order_body(4))
        assert (queued.status_code, queued.json()) == (200, QUEUED | {"pending_order_id": 1})
        assert (await t.data("orderbook"))["orders"] == []
        assert await t.net() == 0
        [row] = await pending_rows(t)
        assert (row["pending_order_id"], row["status"], row["orderid"]) == (1, "pending", None)
        assert row["request"]["quantity"] == 4
        assert "apikey" not in row["request"]

        approved = await decide(t, {"approve": 1})
        assert approved.status_code == 200, approved.text
        order_id = approved.json()["data"]["orderid"]
        assert approved.json()["data"]["status"] == "approved"
        assert await t.book_status(order_id) == "complete"
        assert await t.net() == 4

        again = await decide(t, {"approve": 1})
        assert again.status_code == 409
        assert "already approved" in again.json()["message"]
        assert await t.net() == 4  # one approval, one order


@pytest.mark.asyncio
async def test_a_rejected_order_is_never_placed() -> None:
    async with timed_sim() as t:
        await set_faults(t.http, semi_auto=True)
        first = await t.post("placeorder", **order_body(1))
        second = await t.post("placeorder", **order_body(2))
        assert [first.json()["pending_order_id"], second.json()["pending_order_id"]] == [1, 2]
        rejected = await decide(t, {"reject": 2})
        assert rejected.json()["data"]["status"] == "rejected"
        late = await decide(t, {"approve": 2})
        assert (late.status_code, "already rejected" in late.json()["message"]) == (409, True)
        assert [r["status"] for r in await pending_rows(t)] == ["pending", "rejected"]
        assert await t.net() == 0


@pytest.mark.asyncio
async def test_an_approved_smart_order_is_decided_against_the_net_at_approval() -> None:
    async with timed_sim() as t:
        await t.buy(5)
        await set_faults(t.http, semi_auto=True)
        smart = order_body(0) | {"action": "SELL", "position_size": "0"}
        queued = await t.post("placesmartorder", **smart)
        assert queued.json()["pending_order_id"] == 1
        await set_faults(t.http, semi_auto=False)
        await t.post("placeorder", **order_body(3))  # the net is 8 when it is approved
        approved = await decide(t, {"approve": 1})
        assert approved.status_code == 200, approved.text
        assert await t.net() == 0  # flattened what was there at approval


@pytest.mark.asyncio
async def test_a_broker_refusal_at_approval_marks_the_order_failed() -> None:
    async with timed_sim() as t:
        await set_faults(t.http, semi_auto=True, reject_next=1, reject_message="RMS: no margin")
        await t.post("placeorder", **order_body(1))
        refused = await decide(t, {"approve": 1})
        assert refused.status_code == 400
        assert "RMS: no margin" in refused.json()["message"]
        [row] = await pending_rows(t)
        assert (row["status"], row["message"]) == ("failed", "RMS: no margin")
        assert (await decide(t, {"approve": 1})).status_code == 409


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"approve": 9}, 404, "no pending order 9"),
        ({"reject": 9}, 404, "no pending order 9"),
        ({"approve": "1"}, 400, "approve must be a pending_order_id"),
        ({"approve": True}, 400, "approve must be a pending_order_id"),
        ({"approve": 1, "reject": 1}, 400, 'body must be {"approve": N} or {"reject": N}'),
        ({"cancel": 1}, 400, 'body must be {"approve": N} or {"reject": N}'),
        ([], 400, "body must be a JSON object"),
    ],
)
async def test_a_bad_decision_is_refused_and_changes_nothing(
    body: Any, status: int, message: str
) -> None:
    async with timed_sim() as t:
        await set_faults(t.http, semi_auto=True)
        await t.post("placeorder", **order_body(1))
        response = await decide(t, body)
        assert (response.status_code, message in response.json()["message"]) == (status, True)
        assert [r["status"] for r in await pending_rows(t)] == ["pending"]
        assert await t.net() == 0
