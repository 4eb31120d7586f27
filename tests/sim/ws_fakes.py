"""Test fakes for the sim WebSocket server's hooks, and a small raw protocol client."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.helpers import within
from tradeguard.adapters.sim.ws_server import OrderCallback, TickCallback
from tradeguard.core.broker import OrderReport, OrderStatus

API_KEY = "a" * 64


class FakeMarket:
    def __init__(self) -> None:
        self.listeners: list[TickCallback] = []

    def add_tick_listener(self, callback: TickCallback) -> None:
        self.listeners.append(callback)

    def tick(self, symbol: str, exchange: str, units: int, ts_ms: int) -> None:
        for callback in self.listeners:
            callback(symbol, exchange, units, ts_ms)


class FakeBroker:
    def __init__(self) -> None:
        self.listeners: list[OrderCallback] = []

    def add_order_listener(self, callback: OrderCallback) -> None:
        self.listeners.append(callback)

    def emit(self, report: OrderReport) -> None:
        for callback in self.listeners:
            callback(report)


def report(
    order_id: str = "1001",
    status: OrderStatus = OrderStatus.COMPLETE,
    filled: int | None = 10,
    average: int | None = 14_238_500,
) -> OrderReport:
    return OrderReport(
        order_id=order_id,
        symbol="RELIANCE",
        exchange="NSE",
        action="BUY",
        quantity=10,
        product="MIS",
        status=status,
        average_price=average,
        filled_quantity=filled,
    )


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def recv(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(await within(ws.recv(), "websocket message"))
    assert isinstance(message, dict)
    return message


async def ask(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await send(ws, message)
    return await recv(ws)


async def authenticate(ws: ClientConnection, key: str = API_KEY) -> dict[str, Any]:
    return await ask(ws, {"action": "authenticate", "api_key": key})


async def next_is_pong(ws: ClientConnection) -> None:
    """Prove nothing else is queued for `ws`: the server answers in order, so the next message
    after a ping must be its pong."""
    reply = await ask(ws, {"action": "ping", "timestamp": 1})
    assert reply["type"] == "pong", reply
