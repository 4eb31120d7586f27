"""The sim's WebSocket server speaks OpenAlgo's proxy protocol (openalgo-interface.md §3)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.helpers import eventually
from tests.helpers import recv as raw_recv
from tests.sim.ws_fakes import (
    API_KEY,
    FakeBroker,
    FakeMarket,
    ask,
    authenticate,
    next_is_pong,
    recv,
    report,
)
from tradeguard.adapters.sim.ws_server import SimWsServer
from tradeguard.core.broker import OrderStatus

RELIANCE = {"symbol": "RELIANCE", "exchange": "NSE"}
NIFTY = {"symbol": "NIFTY", "exchange": "NSE_INDEX"}


@dataclass
class Sim:
    server: SimWsServer
    market: FakeMarket
    broker: FakeBroker


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[Sim]:
    market, broker = FakeMarket(), FakeBroker()
    server = SimWsServer(market, broker, api_key=API_KEY, port=0, auth_grace_s=5.0)
    await server.start()
    try:
        yield Sim(server, market, broker)
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def ws(sim: Sim) -> AsyncIterator[ClientConnection]:
    async with connect(sim.server.url, proxy=None) as client:
        yield client


@pytest_asyncio.fixture
async def authed(ws: ClientConnection) -> ClientConnection:
    reply = await authenticate(ws)
    assert reply["status"] == "success"
    return ws


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(("action", "field"), [("authenticate", "api_key"), ("auth", "apikey")])
async def test_authenticates_with_either_verb_and_key_name(
    ws: ClientConnection, action: str, field: str
) -> None:
    reply = await ask(ws, {"action": action, field: API_KEY})
    assert reply == {
        "type": "auth",
        "status": "success",
        "message": "Authentication successful",
        "broker": "sim",
        "user_id": "sim",
        "supported_features": {"ltp": True, "quote": True, "depth": True},
    }


@pytest.mark.asyncio
async def test_type_is_accepted_as_the_verb_key(ws: ClientConnection) -> None:
    reply = await ask(ws, {"type": "authenticate", "api_key": API_KEY})
    assert reply["type"] == "auth"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"action": "authenticate", "api_key": "b" * 64}, "Invalid API key"),
        ({"action": "authenticate"}, "API key is required"),
    ],
)
async def test_bad_key_is_an_authentication_error_without_type(
    ws: ClientConnection, message: dict[str, str], text: str
) -> None:
    reply = await ask(ws, message)
    assert reply == {"status": "error", "code": "AUTHENTICATION_ERROR", "message": text}
    reply = await ask(ws, {"action": "subscribe", "symbols": [RELIANCE], "mode": 1})
    assert reply["code"] == "NOT_AUTHENTICATED"


@pytest.mark.asyncio
async def test_no_auth_within_grace_closes_with_4401() -> None:
    server = SimWsServer(FakeMarket(), FakeBroker(), api_key=API_KEY, port=0, auth_grace_s=0.1)
    await server.start()
    try:
        async with connect(server.url, proxy=None) as client:
            with pytest.raises(ConnectionClosed) as closed:
                await recv(client)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
            assert closed.value.rcvd.reason == "auth timeout"
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_authenticated_client_outlives_the_grace() -> None:
    server = SimWsServer(FakeMarket(), FakeBroker(), api_key=API_KEY, port=0, auth_grace_s=0.05)
    await server.start()
    try:
        async with connect(server.url, proxy=None) as client:
            await authenticate(client)
            server.drop_all()  # the only close it gets is ours, 1011, not 4401
            with pytest.raises(ConnectionClosed) as closed:
                await recv(client)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1011
    finally:
        await server.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "action", ["subscribe", "unsubscribe", "unsubscribe_all", "subscribe_orders"]
)
async def test_actions_before_auth_are_refused(ws: ClientConnection, action: str) -> None:
    reply = await ask(ws, {"action": action, "symbols": [RELIANCE], "mode": 1})
    assert reply == {
        "status": "error",
        "code": "NOT_AUTHENTICATED",
        "message": "You must authenticate first",
    }


@pytest.mark.asyncio
async def test_ping_works_before_auth_and_echoes(ws: ClientConnection) -> None:
    reply = await ask(ws, {"action": "ping", "timestamp": 123, "_pingId": "p1"})
    assert reply["type"] == "pong"
    assert reply["status"] == "success"
    assert reply["client_timestamp"] == 123
    assert reply["_pingId"] == "p1"
    assert isinstance(reply["server_timestamp"], int)


# -- subscribe / unsubscribe ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_subscribe_list_reply_shape(authed: ClientConnection, sim: Sim) -> None:
    reply = await ask(
        authed,
        {"action": "subscribe", "mode": 1, "symbols": [RELIANCE, NIFTY], "request_id": "s-1"},
    )
    assert reply == {
        "type": "subscribe",
        "status": "success",
        "subscriptions": [
            {**RELIANCE, "status": "success", "mode": "LTP", "depth": 5, "broker": "sim"},
            {**NIFTY, "status": "success", "mode": "LTP", "depth": 5, "broker": "sim"},
        ],
        "message": "Subscription processing complete",
        "broker": "sim",
        "request_id": "s-1",
    }
    assert sim.server.subscriptions() == [{("RELIANCE", "NSE", 1), ("NIFTY", "NSE_INDEX", 1)}]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("mode", "label", "number"),
    [("ltp", "LTP", 1), ("QUOTE", "Quote", 2), (3, "Depth", 3), (None, "Quote", 2)],
)
async def test_single_symbol_form_and_modes(
    authed: ClientConnection, sim: Sim, mode: object, label: str, number: int
) -> None:
    message: dict[str, object] = {"action": "subscribe", **RELIANCE}
    if mode is not None:
        message["mode"] = mode
    reply = await ask(authed, message)
    assert reply["status"] == "success"
    assert reply["subscriptions"][0]["mode"] == label
    assert "request_id" not in reply
    assert sim.server.subscriptions() == [{("RELIANCE", "NSE", number)}]


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", [True, "fast", 7, None])
async def test_invalid_mode(authed: ClientConnection, mode: object) -> None:
    reply = await ask(authed, {"action": "subscribe", "mode": mode, "symbols": [RELIANCE]})
    assert reply["status"] == "error"
    assert reply["code"] == "INVALID_MODE"
    assert "type" not in reply


@pytest.mark.asyncio
async def test_subscribe_without_symbols_is_invalid_parameters(authed: ClientConnection) -> None:
    reply = await ask(authed, {"action": "subscribe", "mode": 1, "symbols": []})
    assert reply["code"] == "INVALID_PARAMETERS"


@pytest.mark.asyncio
async def test_partial_subscribe(authed: ClientConnection) -> None:
    bad = {"symbol": "X", "exchange": "NOPE"}
    reply = await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE, bad]})
    assert reply["status"] == "partial"
    assert reply["subscriptions"][1] == {
        **bad,
        "status": "error",
        "message": "Invalid exchange: NOPE",
        "broker": "sim",
    }


@pytest.mark.asyncio
async def test_ticks_reach_subscribers_in_the_real_shape(
    authed: ClientConnection, sim: Sim
) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE]})
    sim.market.tick("INFY", "NSE", 15_000_000, 1)  # not subscribed: not sent
    sim.market.tick("RELIANCE", "NSE", 14_240_500, 1712572800000)
    assert await recv(authed) == {
        "type": "market_data",
        "symbol": "RELIANCE",
        "exchange": "NSE",
        "mode": 1,
        "broker": "sim",
        "data": {
            "symbol": "RELIANCE",
            "exchange": "NSE",
            "mode": "ltp",
            "ltp": 1424.05,
            "ltt": 1712572800000,
            "timestamp": 1712572800000,
        },
    }
    await next_is_pong(authed)


@pytest.mark.asyncio
async def test_hook_called_from_another_thread_is_delivered(
    authed: ClientConnection, sim: Sim
) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE]})
    thread = threading.Thread(target=sim.market.tick, args=("RELIANCE", "NSE", 10_000, 5))
    thread.start()
    thread.join()
    assert (await recv(authed))["data"]["ltp"] == 1.0


@pytest.mark.asyncio
async def test_unsubscribe_reads_mode_per_entry(authed: ClientConnection, sim: Sim) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE]})
    # A top-level mode is ignored with a symbols list: the entry defaults to mode 2, which is
    # not subscribed. OpenAlgo answers success anyway and the LTP subscription stays.
    reply = await ask(authed, {"action": "unsubscribe", "mode": 1, "symbols": [RELIANCE]})
    assert reply["status"] == "success"
    assert sim.server.subscriptions() == [{("RELIANCE", "NSE", 1)}]

    reply = await ask(
        authed,
        {"action": "unsubscribe", "symbols": [{**RELIANCE, "mode": 1}], "request_id": "u-1"},
    )
    assert reply == {
        "type": "unsubscribe",
        "status": "success",
        "message": "Unsubscription processing complete",
        "successful": [{**RELIANCE, "status": "success", "broker": "sim"}],
        "failed": [],
        "broker": "sim",
        "request_id": "u-1",
    }
    assert sim.server.subscriptions() == [set()]
    sim.market.tick("RELIANCE", "NSE", 14_240_500, 1)
    await next_is_pong(authed)


@pytest.mark.asyncio
async def test_unsubscribe_single_form_uses_top_level_mode(
    authed: ClientConnection, sim: Sim
) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, **RELIANCE})
    await ask(authed, {"action": "unsubscribe", "mode": "LTP", **RELIANCE})
    assert sim.server.subscriptions() == [set()]


@pytest.mark.asyncio
async def test_unsubscribe_bad_entry_mode_fails_that_entry(authed: ClientConnection) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE, NIFTY]})
    reply = await ask(
        authed,
        {"action": "unsubscribe", "symbols": [{**RELIANCE, "mode": 1}, {**NIFTY, "mode": "x"}]},
    )
    assert reply["status"] == "partial"
    assert [e["symbol"] for e in reply["failed"]] == ["NIFTY"]


@pytest.mark.asyncio
async def test_unsubscribe_all(authed: ClientConnection, sim: Sim) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE, NIFTY]})
    reply = await ask(authed, {"action": "unsubscribe_all"})
    assert reply["type"] == "unsubscribe"
    assert reply["status"] == "success"
    assert len(reply["successful"]) == 2
    assert sim.server.subscriptions() == [set()]


# -- order updates ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_order_updates_have_every_key(authed: ClientConnection, sim: Sim) -> None:
    sim.broker.emit(report("1000"))  # before subscribe_orders: not sent
    reply = await ask(authed, {"action": "subscribe_orders", "request_id": "o-1"})
    assert reply == {
        "type": "subscribe_orders",
        "status": "success",
        "message": "Subscribed to order updates",
        "request_id": "o-1",
    }
    sim.broker.emit(report("1001"))
    assert await recv(authed) == {
        "type": "order_update",
        "user_id": "sim",
        "mode": "live",
        "broker": "sim",
        "orderid": "1001",
        "symbol": "RELIANCE",
        "exchange": "NSE",
        "action": "BUY",
        "quantity": 10,
        "price": 0.0,
        "trigger_price": 0.0,
        "pricetype": "MARKET",
        "product": "MIS",
        "order_status": "complete",
        "filled_quantity": 10,
        "pending_quantity": 0,
        "average_price": 1423.85,
        "rejection_reason": "",
    }
    sim.broker.emit(report("1002", OrderStatus.OPEN, filled=None, average=None))
    event = await recv(authed)
    assert (event["order_status"], event["filled_quantity"]) == ("open", 0)
    assert (event["pending_quantity"], event["average_price"]) == (10, 0.0)

    reply = await ask(authed, {"action": "unsubscribe_orders"})
    assert reply["type"] == "unsubscribe_orders"
    sim.broker.emit(report("1003"))
    await next_is_pong(authed)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unknown_action(authed: ClientConnection) -> None:
    reply = await ask(authed, {"action": "teleport"})
    assert reply == {
        "status": "error",
        "code": "INVALID_ACTION",
        "message": "Invalid action: teleport",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("raw", ["{not json", "[1, 2]"])
async def test_bad_json(ws: ClientConnection, raw: str) -> None:
    await ws.send(raw)
    assert await recv(ws) == {
        "status": "error",
        "code": "INVALID_JSON",
        "message": "Invalid JSON message",
    }


@pytest.mark.asyncio
async def test_api_key_is_not_kept_in_the_request_log(authed: ClientConnection, sim: Sim) -> None:
    assert API_KEY not in repr(list(sim.server.requests))
    assert sim.server.requests[0] == {"action": "authenticate"}


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_drop_all_closes_with_1011(authed: ClientConnection, sim: Sim) -> None:
    assert sim.server.drop_all() == 1
    with pytest.raises(ConnectionClosed) as closed:
        await recv(authed)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011
    await eventually(lambda: sim.server.client_count == 0)


@pytest.mark.asyncio
async def test_stale_sends_no_ticks_but_order_updates_flow(
    authed: ClientConnection, sim: Sim
) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE]})
    await ask(authed, {"action": "subscribe_orders"})
    sim.server.set_stale(True)
    sim.market.tick("RELIANCE", "NSE", 14_240_500, 1)
    sim.broker.emit(report())
    assert (await recv(authed))["type"] == "order_update"  # the tick was never queued
    sim.server.set_stale(False)
    sim.market.tick("RELIANCE", "NSE", 14_240_500, 2)
    assert (await recv(authed))["type"] == "market_data"


@pytest.mark.asyncio
async def test_duplicate_ticks_and_order_updates(authed: ClientConnection, sim: Sim) -> None:
    await ask(authed, {"action": "subscribe", "mode": 1, "symbols": [RELIANCE]})
    await ask(authed, {"action": "subscribe_orders"})
    sim.server.set_duplicate_ticks(True)
    sim.server.set_duplicate_order_updates(True)
    sim.market.tick("RELIANCE", "NSE", 14_240_500, 1)
    sim.broker.emit(report())
    first, second = await recv(authed), await recv(authed)
    assert first == second
    assert first["type"] == "market_data"
    first, second = await recv(authed), await recv(authed)
    assert first == second
    assert first["type"] == "order_update"
    await next_is_pong(authed)


@pytest.mark.asyncio
async def test_refused_connections_get_503_until_allowed(sim: Sim) -> None:
    sim.server.refuse_connections(True)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.server.url, proxy=None):
            pass
    assert refused.value.response.status_code == 503
    sim.server.refuse_connections(False)
    async with connect(sim.server.url, proxy=None) as client:
        assert (await authenticate(client))["status"] == "success"


@pytest.mark.asyncio
async def test_inject_raw_reaches_authenticated_clients(authed: ClientConnection, sim: Sim) -> None:
    assert sim.server.inject_raw("garbage") == 1
    assert await raw_recv(authed) == "garbage"
