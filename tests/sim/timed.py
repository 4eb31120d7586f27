"""Test helpers (simulator): a simulator whose broker timing runs on a ManualTimer, and the
REST and WebSocket calls the timing tests make over the real stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.sim.admin import SBIN, sim_http
from tests.sim.ws_fakes import ask, recv
from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.adapters.sim.timing import ManualTimer
from tradeguard.core.money import to_units


@dataclass
class Timed:
    sim: EmbeddedSimulator
    timer: ManualTimer
    http: httpx.AsyncClient

    @property
    def key(self) -> str:
        return self.sim.apikey

    async def post(self, endpoint: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"/api/v1/{endpoint}", json={"apikey": self.key, **body})

    async def data(self, endpoint: str, **body: Any) -> Any:
        response = await self.post(endpoint, **body)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def timing(self, **spec: Any) -> dict[str, Any]:
        response = await self.http.post("/sim/admin/timing", json=spec)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def buy(self, quantity: int = 10, endpoint: str = "placeorder", **extra: Any) -> str:
        response = await self.post(endpoint, **order_body(quantity), **extra)
        assert response.status_code == 200, response.text
        order_id: str = response.json()["orderid"]
        return order_id

    async def status(self, order_id: str) -> dict[str, Any]:
        row: dict[str, Any] = await self.data("orderstatus", orderid=order_id, strategy="t")
        return row

    async def book_status(self, order_id: str) -> str:
        book = await self.data("orderbook")
        [row] = [r for r in book["orders"] if r["orderid"] == order_id]
        status: str = row["order_status"]
        return status

    async def net(self) -> int:
        reply = await self.post("openposition", strategy="t", product="MIS", **SBIN)
        assert reply.status_code == 200, reply.text
        return int(reply.json()["quantity"])

    async def trades(self) -> list[tuple[int, float]]:
        rows = await self.data("tradebook")
        return [(int(r["quantity"]), r["average_price"]) for r in rows]

    def price(self, ltp: str) -> None:
        self.sim.market.set_price("SBIN", "NSE", to_units(ltp))


def order_body(quantity: int) -> dict[str, str]:
    return {
        "strategy": "t",
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": "BUY",
        "quantity": str(quantity),
        "pricetype": "MARKET",
        "product": "MIS",
    }


@asynccontextmanager
async def timed_sim(**timing: Any) -> AsyncIterator[Timed]:
    timer = ManualTimer()
    options = SimulatorOptions(
        walk=False,
        symbols=(("SBIN", "NSE", "800"),),
        rate_limits=RateLimits(enabled=False),
        timing=timing,
        timer=timer,
    )
    async with (
        EmbeddedSimulator(options) as sim,
        sim_http(sim) as http,
    ):
        yield Timed(sim, timer, http)


async def order_client(t: Timed) -> ClientConnection:
    """A WebSocket connection authenticated and subscribed to order updates; close it."""
    ws = await connect(t.sim.ws_url, proxy=None)
    auth = await ask(ws, {"action": "authenticate", "api_key": t.key})
    assert auth["status"] == "success", auth
    reply = await ask(ws, {"action": "subscribe_orders"})
    assert reply["status"] == "success", reply
    return ws


async def next_update(ws: ClientConnection) -> tuple[str, int]:
    """The next order update's (status, filled quantity)."""
    message = await recv(ws)
    assert message["type"] == "order_update", message
    return message["order_status"], int(message["filled_quantity"])
