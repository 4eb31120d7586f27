"""A placed order whose reply is lost: `order_reply` on /sim/admin/faults (or `tradeguard sim
--order-reply`) places the order at the paper broker, then answers late (the client times out)
or with a 500. The order is in the order book all the same: the client must reconcile."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.sim.admin import refused_whole, set_faults, sim_flags, sim_http
from tradeguard.adapters.sim.embedded import EmbeddedSimulator
from tradeguard.adapters.sim.faults import StartFaults
from tradeguard.interfaces import cli

SERVER_ERROR = {"status": "error", "message": "An unexpected error occurred"}


def order(sim: EmbeddedSimulator, quantity: int = 1) -> dict[str, str]:
    return {
        "apikey": sim.apikey,
        "strategy": "t",
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": "BUY",
        "quantity": str(quantity),
        "pricetype": "MARKET",
        "product": "MIS",
    }


async def orders(http: httpx.AsyncClient, sim: EmbeddedSimulator) -> list[dict[str, Any]]:
    response = await http.post("/api/v1/orderbook", json={"apikey": sim.apikey})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]["orders"]
    return rows


@pytest.mark.asyncio
async def test_a_late_reply_times_the_client_out_but_the_order_is_placed(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    state = await set_faults(
        http, order_reply="late", order_reply_count=1, order_reply_delay_ms=30_000
    )
    assert (state["order_reply"], state["order_reply_count"]) == ("late", 1)
    assert state["order_reply_delay_ms"] == 30_000
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=0.5, trust_env=False) as quick:
        with pytest.raises(httpx.ReadTimeout):
            await quick.post("/api/v1/placeorder", json=order(sim, 3))

    rows = await orders(http, sim)
    assert [(r["quantity"], r["order_status"]) for r in rows] == [("3", "complete")]
    assert (await set_faults(http))["order_reply"] is None  # the count is used up
    next_one = await http.post("/api/v1/placeorder", json=order(sim))
    assert next_one.status_code == 200, next_one.text


@pytest.mark.asyncio
async def test_a_late_reply_still_comes_if_the_client_waits(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    await set_faults(http, order_reply="late", order_reply_delay_ms=200)
    started = time.monotonic()
    placed = await http.post("/api/v1/placeorder", json=order(sim))
    assert time.monotonic() - started >= 0.2
    assert placed.status_code == 200, placed.text
    assert [r["orderid"] for r in await orders(http, sim)] == [placed.json()["orderid"]]


@pytest.mark.asyncio
async def test_a_500_after_placing_leaves_the_order_and_the_position(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    await set_faults(http, order_reply="500")  # until cleared
    for body in (order(sim, 2), order(sim, 5) | {"position_size": "7"}):
        endpoint = "placesmartorder" if "position_size" in body else "placeorder"
        response = await http.post(f"/api/v1/{endpoint}", json=body)
        assert (response.status_code, response.json()) == (500, SERVER_ERROR)

    rows = await orders(http, sim)
    assert sorted(r["quantity"] for r in rows) == ["2", "5"]  # smart: 7 wanted, 2 held
    book = await http.post("/api/v1/positionbook", json={"apikey": sim.apikey})
    assert [p["quantity"] for p in book.json()["data"]] == ["7"]

    await set_faults(http, order_reply=None)
    placed = await http.post("/api/v1/placeorder", json=order(sim))
    assert placed.status_code == 200, placed.text


@pytest.mark.asyncio
async def test_only_placed_orders_use_up_the_count(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    await set_faults(
        http, order_reply="500", order_reply_count=1, reject_next=1, reject_message="RMS: no"
    )
    rejected = await http.post("/api/v1/placeorder", json=order(sim))
    assert rejected.status_code == 400  # not placed: its reply is the rejection
    matched = await http.post(
        "/api/v1/placesmartorder", json=order(sim, 0) | {"position_size": "0"}
    )
    assert matched.status_code == 200  # nothing to do, nothing placed
    lost = await http.post("/api/v1/placeorder", json=order(sim))
    assert lost.status_code == 500
    normal = await http.post("/api/v1/placeorder", json=order(sim))
    assert normal.status_code == 200
    assert len(await orders(http, sim)) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"order_reply": "drop"}, "order_reply must be one of late, 500 or null"),
        ({"delay_ms": 100, "order_reply": "lost"}, "order_reply must be one of"),
        ({"order_reply_count": 1}, "order_reply_count needs order_reply"),
        ({"order_reply": "late", "order_reply_delay_ms": -1}, "order_reply_delay_ms"),
        ({"order_reply": "500", "order_reply_count": "x"}, "order_reply_count"),
        ({"order_reply": "500", "rate_limits": {"orders": 1}}, "unknown rate limit"),
    ],
)
async def test_a_bad_order_reply_is_400_and_changes_nothing(
    sim: EmbeddedSimulator, http: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    await refused_whole(http, body, message)
    placed = await http.post("/api/v1/placeorder", json=order(sim))
    assert placed.status_code == 200


def parse(*flags: str) -> StartFaults:
    return sim_flags(*flags).faults


def test_order_reply_flags_map_onto_the_admin_body() -> None:
    faults = parse(
        "--order-reply", "late", "--order-reply-count", "2", "--order-reply-delay-ms", "1500"
    )
    assert faults.rest_spec() == {
        "order_reply": "late",
        "order_reply_count": 2,
        "order_reply_delay_ms": 1500,
    }
    assert parse("--order-reply", "500").rest_spec() == {
        "order_reply": "500",
        "order_reply_count": None,
    }


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--order-reply-count", "1"], "need --order-reply"),
        (["--order-reply-delay-ms", "10"], "need --order-reply"),
        (["--order-reply", "drop"], "invalid choice"),
        (["--order-reply", "late", "--order-reply-delay-ms", "-1"], "must be >= 0"),
    ],
)
def test_bad_order_reply_flags_are_usage_errors(flags: list[str], error: str) -> None:
    with pytest.raises(cli.CommandError, match=error):
        parse(*flags)


@pytest.mark.asyncio
async def test_the_order_reply_flag_starts_the_simulator_with_the_fault() -> None:
    async with (
        EmbeddedSimulator(sim_flags("--order-reply", "500", "--order-reply-count", "1")) as sim,
        sim_http(sim) as http,
    ):
        lost = await http.post("/api/v1/placeorder", json=order(sim))
        assert (lost.status_code, lost.json()) == (500, SERVER_ERROR)
        assert len(await orders(http, sim)) == 1
