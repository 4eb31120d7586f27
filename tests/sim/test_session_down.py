"""Broker session down (OpenAlgo after the daily re-login): `{"session_down": true}` on
/sim/admin/faults, or `tradeguard sim --session-down`, over real sockets.

Every /api/v1 endpoint answers 403 "Invalid openalgo apikey"; WebSocket authenticate with the
right key answers BROKER_ERROR. As with the real OpenAlgo proxy (which drops its broker adapter
on a logout), sockets open before the session went down stay open but silent, also after the
session is back: their subscribe answers BROKER_ERROR "Broker adapter not found" with no `type`
field; only a fresh connection gets ticks again. Switching it off restores REST.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.sim.admin import SBIN, refused_whole, set_faults, sim_flags, sim_http, subscribed_client
from tests.sim.ws_fakes import ask, next_is_pong, recv
from tradeguard.adapters.sim.embedded import EmbeddedSimulator

INVALID_KEY = {"status": "error", "message": "Invalid openalgo apikey"}
BROKER_ERROR = {
    "status": "error",
    "code": "BROKER_ERROR",
    "message": "No broker configuration found for user",
}
NO_ADAPTER = {"status": "error", "code": "BROKER_ERROR", "message": "Broker adapter not found"}
SUBSCRIBE = {"action": "subscribe", "symbols": [SBIN], "mode": 1, "request_id": "s-9"}


async def authenticated(sim: EmbeddedSimulator) -> ClientConnection:
    return await subscribed_client(sim.ws_url, sim.apikey)


async def move(http: httpx.AsyncClient, ltp: str) -> None:
    response = await http.post("/sim/admin/price", json=SBIN | {"ltp": ltp})
    assert response.status_code == 200, response.text


def valid_bodies(key: str) -> dict[str, dict[str, Any]]:
    """A schema-valid body for every /api/v1 endpoint of the simulator."""
    order = SBIN | {"apikey": key, "strategy": "t", "action": "BUY", "quantity": "1"}
    ident = {"apikey": key, "strategy": "t", "orderid": "1"}
    return {
        "placeorder": order,
        "placesmartorder": order | {"position_size": "1"},
        "cancelorder": ident,
        "closeposition": {"apikey": key, "strategy": "t"},
        "orderstatus": ident,
        "orderbook": {"apikey": key},
        "tradebook": {"apikey": key},
        "positionbook": {"apikey": key},
        "openposition": SBIN | {"apikey": key, "strategy": "t", "product": "MIS"},
        "quotes": SBIN | {"apikey": key},
        "multiquotes": {"apikey": key, "symbols": [SBIN]},
        "funds": {"apikey": key},
        "symbol": SBIN | {"apikey": key},
        "ping": {"apikey": key},
        "analyzer": {"apikey": key},
        "analyzer/toggle": {"apikey": key, "mode": False},
        "market/timings": {"apikey": key, "date": "2026-12-08"},
    }


# OpenAlgo's market calendar is its own: it answers with the broker session down
NEEDS_NO_SESSION = {"market/timings"}


@pytest.mark.asyncio
async def test_every_rest_endpoint_answers_403_until_the_session_is_back(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    bodies = valid_bodies(sim.apikey)
    assert set(bodies) == set(sim.api.endpoints)  # a new endpoint must be covered here

    state = await set_faults(http, session_down=True)
    assert state["session_down"] is True
    for name, body in bodies.items():
        response = await http.post(f"/api/v1/{name}", json=body)
        if name in NEEDS_NO_SESSION:
            assert response.status_code == 200, (name, response.text)
            continue
        assert (name, response.status_code, response.json()) == (name, 403, INVALID_KEY)
    assert await sim.broker.order_book() == []  # nothing was placed

    assert (await set_faults(http, session_down=False))["session_down"] is False
    for name in ("ping", "placeorder", "orderbook", "funds", "quotes"):
        response = await http.post(f"/api/v1/{name}", json=bodies[name])
        assert (name, response.status_code) == (name, 200), response.text


@pytest.mark.asyncio
async def test_a_bad_body_is_still_400_and_the_admin_endpoints_still_answer(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    await set_faults(http, session_down=True)
    bad = await http.post("/api/v1/ping", json={"apikey": sim.apikey, "extra": 1})
    assert bad.status_code == 400  # the schema is checked before the key, as in OpenAlgo
    await move(http, "801")
    assert (await set_faults(http))["session_down"] is True


@pytest.mark.asyncio
async def test_websocket_authenticate_answers_broker_error_while_down(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    await set_faults(http, session_down=True)
    async with connect(sim.ws_url, proxy=None) as ws:
        reply = await ask(ws, {"action": "authenticate", "api_key": sim.apikey})
        assert reply == BROKER_ERROR
        wrong = await ask(ws, {"action": "authenticate", "api_key": "0" * 64})
        assert wrong == {  # the key is checked first
            "status": "error",
            "code": "AUTHENTICATION_ERROR",
            "message": "Invalid API key",
        }
        refused = await ask(ws, {"action": "subscribe", "symbols": [SBIN], "mode": 1})
        assert refused["code"] == "NOT_AUTHENTICATED"

        await set_faults(http, session_down=False)
        again = await ask(ws, {"action": "authenticate", "api_key": sim.apikey})
        assert again["status"] == "success", again


@pytest.mark.asyncio
async def test_open_sockets_stay_silent_while_down_and_after_the_session_is_back(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    ws = await authenticated(sim)
    try:
        await move(http, "801")
        assert (await recv(ws))["data"]["ltp"] == 801.0
        assert (await ask(ws, {"action": "get_broker_info"}))["adapter_status"] == "connected"

        await set_faults(http, session_down=True)
        await move(http, "802")
        await next_is_pong(ws)  # still open and answering, but the tick never came
        assert sim.ws.client_count == 1
        assert await ask(ws, SUBSCRIBE) == NO_ADAPTER  # no `type`, no request_id

        await set_faults(http, session_down=False)  # the trader logged in again
        await move(http, "803")
        await next_is_pong(ws)  # the old socket's broker adapter is gone for good
        assert await ask(ws, SUBSCRIBE) == NO_ADAPTER
        unsubscribe = {"action": "unsubscribe", "symbols": [SBIN | {"mode": 1}]}
        assert await ask(ws, unsubscribe) == NO_ADAPTER
        info = await ask(ws, {"action": "get_broker_info"})
        assert info["adapter_status"] == "disconnected"

        fresh = await authenticated(sim)  # a new connection gets ticks at once
        try:
            await move(http, "804")
            assert (await recv(fresh))["data"]["ltp"] == 804.0
            # as in OpenAlgo: its new adapter streams SBIN, and the proxy kept the old socket's
            # SBIN subscription, so that socket hears SBIN again (only what others subscribe)
            assert (await recv(ws))["data"]["ltp"] == 804.0
        finally:
            await fresh.close()
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_order_updates_still_reach_a_socket_whose_adapter_is_gone(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    ws = await authenticated(sim)
    try:
        assert (await ask(ws, {"action": "subscribe_orders"}))["status"] == "success"
        await set_faults(http, session_down=True)
        await set_faults(http, session_down=False)
        order = SBIN | {"apikey": sim.apikey, "strategy": "t", "action": "BUY", "quantity": "1"}
        placed = await http.post("/api/v1/placeorder", json=order | {"product": "MIS"})
        assert placed.status_code == 200, placed.text
        update = await recv(ws)
        assert (update["type"], update["orderid"]) == ("order_update", placed.json()["orderid"])
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_reset_brings_the_session_back(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    await set_faults(http, session_down=True)
    assert (await set_faults(http, reset=True))["session_down"] is False
    ping = await http.post("/api/v1/ping", json={"apikey": sim.apikey})
    assert ping.status_code == 200
    async with connect(sim.ws_url, proxy=None) as ws:
        reply = await ask(ws, {"action": "authenticate", "api_key": sim.apikey})
        assert reply["status"] == "success"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"session_down": "yes"}, "session_down must be true or false"),
        ({"session_down": 1}, "session_down must be true or false"),
        ({"delay_ms": 50, "sesion_down": True}, "unknown fault field(s): sesion_down"),
        ({"session_down": True, "fail": "teapot"}, "fail must be one of"),
    ],
)
async def test_a_bad_switch_is_400_and_changes_nothing(
    sim: EmbeddedSimulator, http: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    await refused_whole(http, body, message)
    assert sim.ws.faults()["session_down"] is False


@pytest.mark.asyncio
async def test_the_session_down_flag_starts_the_simulator_with_the_session_down() -> None:
    options = sim_flags("--session-down")
    assert options.faults.session_down is True
    assert options.faults.rest_spec() == {"session_down": True}
    async with (
        EmbeddedSimulator(options) as sim,
        sim_http(sim) as http,
    ):
        ping = await http.post("/api/v1/ping", json={"apikey": sim.apikey})
        assert (ping.status_code, ping.json()) == (403, INVALID_KEY)
        async with connect(sim.ws_url, proxy=None) as ws:
            reply = await ask(ws, {"action": "authenticate", "api_key": sim.apikey})
            assert reply == BROKER_ERROR


@pytest.mark.asyncio
async def test_updating_the_rest_faults_directly_also_switches_the_websocket(
    sim: EmbeddedSimulator,
) -> None:
    sim.api.faults.update({"session_down": True})  # what in-process end-to-end tests do
    assert sim.ws.faults()["session_down"] is True
    async with connect(sim.ws_url, proxy=None) as ws:
        reply = await ask(ws, {"action": "authenticate", "api_key": sim.apikey})
        assert reply == BROKER_ERROR
    sim.api.faults.update({"reset": True})
    assert sim.ws.faults()["session_down"] is False
