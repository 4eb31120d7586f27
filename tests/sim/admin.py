"""Test helpers (simulator): its admin fault endpoint, and a raw WebSocket client that has
authenticated and subscribed SBIN in LTP mode."""

from __future__ import annotations

import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.sim.ws_fakes import ask

SBIN = {"symbol": "SBIN", "exchange": "NSE"}


async def faults(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    """POST /sim/admin/faults with `body` as it is (bad bodies included)."""
    return await http.post("/sim/admin/faults", content=json.dumps(body))


async def set_faults(http: httpx.AsyncClient, **spec: Any) -> dict[str, Any]:
    response = await faults(http, spec)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def subscribed_client(ws_url: str, apikey: str) -> ClientConnection:
    """A connection authenticated with `apikey` and subscribed to SBIN (LTP); close it."""
    ws = await connect(ws_url, proxy=None)
    auth = await ask(ws, {"action": "authenticate", "api_key": apikey})
    assert auth["status"] == "success", auth
    reply = await ask(ws, {"action": "subscribe", "symbols": [SBIN], "mode": 1})
    assert reply["status"] == "success", reply
    return ws
