"""Tests (simulator): GET /sim/admin/orders lists every order with its `strategy` tag (which
OpenAlgo's order book leaves out), so a chaos audit can count exits per trade."""

from __future__ import annotations

import httpx
import pytest

from tradeguard.adapters.sim.embedded import EmbeddedSimulator


async def place(http: httpx.AsyncClient, sim: EmbeddedSimulator, action: str, tag: str) -> str:
    body = {"apikey": sim.apikey, "strategy": tag, "symbol": "SBIN", "exchange": "NSE"}
    body |= {"action": action, "quantity": "3", "product": "MIS", "pricetype": "MARKET"}
    reply = await http.post("/api/v1/placeorder", json=body)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["orderid"])


@pytest.mark.asyncio
async def test_every_order_with_its_tag_fill_and_price(
    sim: EmbeddedSimulator, http: httpx.AsyncClient
) -> None:
    entry = await place(http, sim, "BUY", "entry")
    await http.post("/sim/admin/faults", json={"fill_late": True})
    held = await place(http, sim, "SELL", "tg:acct:s1:STOP_LOSS:T1")

    reply = await http.get("/sim/admin/orders")
    assert reply.status_code == 200
    rows = {r["orderid"]: r for r in reply.json()["data"]}
    assert list(rows) == [entry, held]
    assert rows[entry]["strategy"] == "entry"
    assert (rows[entry]["order_status"], rows[entry]["filled_quantity"]) == ("complete", 3)
    assert rows[entry]["average_price"] == 800.0
    assert rows[held]["strategy"] == "tg:acct:s1:STOP_LOSS:T1"
    assert (rows[held]["order_status"], rows[held]["filled_quantity"]) == ("open", 0)
    assert (await http.post("/sim/admin/orders")).status_code == 405  # read only
