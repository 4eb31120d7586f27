"""The simulator's /sim/admin endpoints need its API key (`X-Sim-Admin-Key`), in the embedded
simulator too: without it (or with a wrong one) every admin endpoint answers 403 and changes
nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.sim.admin import SBIN, set_faults
from tradeguard.adapters.sim.embedded import EmbeddedSimulator
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER

ENDPOINTS = [
    ("POST", "/sim/admin/faults", {"reject_next": 3}),
    ("POST", "/sim/admin/feed", {"stale": True}),
    ("POST", "/sim/admin/timing", {"profile": "realistic"}),
    ("GET", "/sim/admin/pending", None),
    ("POST", "/sim/admin/price", SBIN | {"ltp": "1"}),
    ("POST", "/sim/admin/stream", {"symbols": [SBIN], "rate": 10, "seconds": 1}),
    ("GET", "/sim/admin/arrivals", None),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("sent", [None, "", "0" * 64])
async def test_admin_endpoints_refuse_a_missing_or_wrong_key(
    sim: EmbeddedSimulator, http: httpx.AsyncClient, sent: str | None
) -> None:
    before = await set_faults(http)
    headers = {} if sent is None else {ADMIN_KEY_HEADER: sent}
    async with httpx.AsyncClient(base_url=sim.rest_url, trust_env=False, headers=headers) as bare:
        for method, path, body in ENDPOINTS:
            reply = await bare.request(method, path, json=body)
            assert reply.status_code == 403, (path, reply.text)
            assert reply.json()["status"] == "error"
            assert ADMIN_KEY_HEADER in reply.json()["message"]
            assert sim.apikey not in reply.text
    assert await set_faults(http) == before  # nothing changed
    quote = await http.post("/api/v1/quotes", json={"apikey": sim.apikey} | SBIN)
    assert quote.json()["data"]["ltp"] == 800.0  # the price was not moved either


@pytest.mark.asyncio
async def test_the_key_in_the_header_is_accepted(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    reply = await http.post("/sim/admin/price", json=SBIN | {"ltp": "801"})
    assert reply.status_code == 200, reply.text
