"""Tests: run the OpenAlgo-compatible simulator on 127.0.0.1:<ephemeral> with uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from tests.helpers import eventually
from tradeguard.adapters.asgi_server import GRACEFUL_SHUTDOWN_S
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER, create_app
from tradeguard.adapters.sim.rest_server import SimApi
from tradeguard.core.money import to_units

APIKEY = "a" * 32 + "0123456789abcdef0123456789abcdef"


@dataclass
class SimHandle:
    url: str
    api: SimApi
    broker: PaperBroker
    market: SimMarket
    admin: httpx.AsyncClient

    async def faults(self, **spec: Any) -> dict[str, Any]:
        response = await self.admin.post("/sim/admin/faults", json=spec)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def price(self, symbol: str, exchange: str, ltp: str) -> None:
        body = {"symbol": symbol, "exchange": exchange, "ltp": ltp}
        response = await self.admin.post("/sim/admin/price", json=body)
        assert response.status_code == 200, response.text

    async def call(self, endpoint: str, body: dict[str, Any]) -> httpx.Response:
        return await self.admin.post(f"/api/v1/{endpoint}", json=body)


@asynccontextmanager
async def serve_sim(limits: RateLimits | None = None) -> AsyncIterator[SimHandle]:
    market = SimMarket(seed=0)
    market.set_price("SBIN", "NSE", to_units("800"))
    market.set_instrument("SBIN", "NSE", tick_size=500, lot_size=1)
    market.set_price("INFY", "NSE", to_units("1500.25"))
    broker = PaperBroker(market)
    api = SimApi(broker, market, apikey=APIKEY, limits=limits or RateLimits(enabled=False))
    config = uvicorn.Config(
        create_app(api),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,  # uvicorn's default waits forever
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), message="uvicorn started")
    if task.done():
        task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=url, timeout=5.0, headers={ADMIN_KEY_HEADER: APIKEY}
        ) as admin:
            yield SimHandle(url, api, broker, market, admin)
    finally:
        server.should_exit = True
        await task
