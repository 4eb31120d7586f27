"""Test helpers (simulator): `tradeguard sim` flags as options, a client allowed to call its
/sim/admin endpoints (`sim_http`), its admin fault endpoint, and a raw WebSocket client that
has authenticated and subscribed SBIN in LTP mode."""

from __future__ import annotations

import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.sim.ws_fakes import ask
from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER
from tradeguard.bootstrap import sim_command, sim_options
from tradeguard.interfaces import cli

SBIN = {"symbol": "SBIN", "exchange": "NSE"}
PORTS_AND_KEY = ["--rest-port", "0", "--ws-port", "0", "--apikey", "k" * 64]


def sim_flags(*flags: str, walk: bool = False) -> SimulatorOptions:
    """What `tradeguard sim <flags>` would run (any ports, a fixed key; no walk unless asked);
    a bad flag raises cli.CommandError."""
    base = PORTS_AND_KEY if walk else [*PORTS_AND_KEY, "--no-walk"]
    args = cli.build_parser([sim_command()]).parse_args(["sim", *base, *flags])
    return sim_options(args)


def sim_http(sim: EmbeddedSimulator, timeout: float = 5.0) -> httpx.AsyncClient:
    """A client of the simulator's REST server that may call /sim/admin (its key in the
    X-Sim-Admin-Key header)."""
    return httpx.AsyncClient(
        base_url=sim.rest_url,
        timeout=timeout,
        trust_env=False,
        headers={ADMIN_KEY_HEADER: sim.apikey},
    )


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


async def refused_whole(http: httpx.AsyncClient, body: Any, message: str) -> None:
    """A bad /sim/admin/faults body: 400 naming the problem, and the fault state unchanged."""
    before = await set_faults(http)
    response = await faults(http, body)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert await set_faults(http) == before
