"""`POST /sim/admin/feed` switches the simulator's WebSocket faults over real sockets."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.helpers import eventually
from tests.sim.admin import SBIN, subscribed_client
from tests.sim.ws_fakes import ask, next_is_pong, recv
from tradeguard.adapters.sim.embedded import EmbeddedSimulator

QUIET = {"stale": False, "duplicate_ticks": False, "duplicate_orders": False, "refuse": False}


@pytest_asyncio.fixture
async def ws(sim: EmbeddedSimulator) -> AsyncIterator[ClientConnection]:
    """A client authenticated with the simulator's key and subscribed to SBIN (LTP mode)."""
    client = await subscribed_client(sim.ws_url, sim.apikey)
    try:
        yield client
    finally:
        await client.close()


async def feed(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post("/sim/admin/feed", content=json.dumps(body))


async def set_feed(http: httpx.AsyncClient, **flags: bool) -> dict[str, Any]:
    response = await feed(http, flags)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    data: dict[str, Any] = body["data"]
    return data


async def move(http: httpx.AsyncClient, ltp: str) -> None:
    response = await http.post("/sim/admin/price", json=SBIN | {"ltp": ltp})
    assert response.status_code == 200, response.text


async def next_tick(ws: ClientConnection) -> dict[str, Any]:
    message = await recv(ws)
    assert message["type"] == "market_data", message
    return message


async def until_pong(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every message queued for `ws` before the reply to a ping sent now."""
    await ws.send(json.dumps({"action": "ping", "timestamp": 1}))
    messages = []
    while (message := await recv(ws))["type"] != "pong":
        messages.append(message)
    return messages


@pytest.mark.asyncio
async def test_empty_body_reports_the_feed_state(http: httpx.AsyncClient) -> None:
    assert await set_feed(http) == QUIET | {"dropped": 0}


@pytest.mark.asyncio
async def test_drop_closes_every_connection_with_1011(
    sim: EmbeddedSimulator, http: httpx.AsyncClient, ws: ClientConnection
) -> None:
    assert await set_feed(http, drop=True) == QUIET | {"dropped": 1}
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011
    await eventually(lambda: sim.ws.client_count == 0, message="dropped client gone")
    async with connect(sim.ws_url, proxy=None) as again:  # reconnecting still works
        reply = await ask(again, {"action": "authenticate", "api_key": sim.apikey})
        assert reply["status"] == "success"


@pytest.mark.asyncio
async def test_stale_keeps_the_socket_open_but_sends_no_ticks(
    http: httpx.AsyncClient, ws: ClientConnection
) -> None:
    await move(http, "801")
    assert (await next_tick(ws))["data"]["ltp"] == 801.0

    assert await set_feed(http, stale=True) == QUIET | {"stale": True, "dropped": 0}
    await move(http, "802")
    await move(http, "803")
    await next_is_pong(ws)  # the socket answers, and no tick was queued before the pong

    assert (await set_feed(http, stale=False))["stale"] is False
    await move(http, "804")
    assert (await next_tick(ws))["data"]["ltp"] == 804.0


@pytest.mark.asyncio
async def test_duplicate_ticks_sends_every_tick_twice(
    http: httpx.AsyncClient, ws: ClientConnection
) -> None:
    assert (await set_feed(http, duplicate_ticks=True))["duplicate_ticks"] is True
    await move(http, "805")
    first, second = await next_tick(ws), await next_tick(ws)
    assert first == second
    assert first["data"]["ltp"] == 805.0
    await next_is_pong(ws)

    await set_feed(http, duplicate_ticks=False)
    await move(http, "806")
    assert (await next_tick(ws))["data"]["ltp"] == 806.0
    await next_is_pong(ws)


@pytest.mark.asyncio
async def test_duplicate_orders_sends_every_order_update_twice(
    sim: EmbeddedSimulator, http: httpx.AsyncClient, ws: ClientConnection
) -> None:
    reply = await ask(ws, {"action": "subscribe_orders"})
    assert reply["status"] == "success", reply
    assert (await set_feed(http, duplicate_orders=True))["duplicate_orders"] is True
    order = {
        "apikey": sim.apikey,
        "strategy": "t",
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": "BUY",
        "quantity": "1",
        "pricetype": "MARKET",
        "product": "MIS",
    }
    placed = await http.post("/api/v1/placeorder", json=order)
    assert placed.status_code == 200, placed.text

    updates = await until_pong(ws)
    assert updates, "no order update"
    assert all(u["type"] == "order_update" for u in updates), updates
    assert len(updates) % 2 == 0
    assert updates[0::2] == updates[1::2]
    assert updates[-1]["order_status"] == "complete"


@pytest.mark.asyncio
async def test_refuse_with_drop_keeps_clients_out_until_cleared(
    sim: EmbeddedSimulator, http: httpx.AsyncClient, ws: ClientConnection
) -> None:
    state = await set_feed(http, refuse=True, drop=True)
    assert state == QUIET | {"refuse": True, "dropped": 1}
    with pytest.raises(ConnectionClosed):
        await recv(ws)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.ws_url, proxy=None):
            pass
    assert refused.value.response.status_code == 503

    await set_feed(http, refuse=False)
    async with connect(sim.ws_url, proxy=None) as again:
        reply = await ask(again, {"action": "authenticate", "api_key": sim.apikey})
        assert reply["status"] == "success"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"drop": True, "stale_feed": True},
            "unknown feed fault field(s): stale_feed; "
            "expected any of drop, stale, duplicate_ticks, duplicate_orders, refuse",
        ),
        ({"stale": "yes"}, "stale must be true or false"),
        ({"drop": 1}, "drop must be true or false"),
        (["stale"], "body must be a JSON object"),
    ],
)
async def test_a_bad_body_is_400_and_changes_nothing(
    http: httpx.AsyncClient, ws: ClientConnection, body: Any, message: str
) -> None:
    response = await feed(http, body)
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": message}
    assert await set_feed(http) == QUIET | {"dropped": 0}
    await next_is_pong(ws)  # not dropped


@pytest.mark.asyncio
async def test_malformed_json_is_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/sim/admin/feed", content=b"{stale")
    assert response.status_code == 400
    assert response.json()["message"] == "body must be a JSON object"


@pytest.mark.asyncio
async def test_a_delayed_price_goes_out_after_the_reply_and_its_send_time_is_kept(
    http: httpx.AsyncClient, ws: ClientConnection
) -> None:
    asked = time.time_ns()
    response = await http.post("/sim/admin/price", json=SBIN | {"ltp": "801.5", "delay_ms": 5})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["scheduled_ms"] == 5
    assert "sent_ns" not in data
    tick = await next_tick(ws)
    received = time.time_ns()
    assert float(tick["data"]["ltp"]) == 801.5
    arrivals = (await http.get("/sim/admin/arrivals")).json()["data"]
    # stamped when the WebSocket server wrote the tick: at least the delay after the request
    # went out, before it arrived (when this test reads the reply is up to the event loop)
    assert asked + 5_000_000 <= arrivals["NSE:SBIN"] <= received
    # an immediate price: `sent_ns` (before the WebSocket server) <= the write stamp
    now = await http.post("/sim/admin/price", json=SBIN | {"ltp": "802"})
    await next_tick(ws)
    stamps = (await http.get("/sim/admin/arrivals")).json()["data"]
    assert arrivals["NSE:SBIN"] < now.json()["data"]["sent_ns"] <= stamps["NSE:SBIN"]


@pytest.mark.asyncio
@pytest.mark.parametrize("delay", [-1, 60_001, "soon"])
async def test_a_bad_price_delay_is_refused_and_nothing_is_sent(
    http: httpx.AsyncClient, ws: ClientConnection, delay: object
) -> None:
    response = await http.post("/sim/admin/price", json=SBIN | {"ltp": "805", "delay_ms": delay})
    assert response.status_code == 400
    assert "delay_ms" in response.text or "could not convert" in response.text
    assert await until_pong(ws) == []
    arrivals = (await http.get("/sim/admin/arrivals")).json()["data"]
    assert "NSE:SBIN" not in arrivals
