"""Tests (API): an exit queued in OpenAlgo's Action Center over the HTTP API and the dashboard
route: the trade view shows it, a retry is a 409 that says what to do (API and dashboard), a
malformed confirmation is a 400 that changes nothing, and `pending_rejected: true` after a
rejection sends exactly one new exit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_dashboard import logged_in
from tests.helpers import eventually
from tradeguard.adapters.sim.rest_admin import SimAdmin


def exit_of(api: Api, trade_id: str) -> dict[str, Any] | None:
    rows = api.stack.service.active_trades("alice")
    row = next((t for t in rows if t["trade_id"] == trade_id), None)
    return None if row is None else row.get("exit")


@pytest.mark.asyncio
async def test_exittrade_while_an_exit_is_queued_for_approval(api: Api) -> None:
    await api.strategy()
    order_id = await api.stack.fill_entry("SBIN", "BUY", 10)
    trade = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    trade_id = trade["trade_id"]
    api.stack.sim.api.faults.update({"semi_auto": True})
    api.stack.price("SBIN", "789")  # the stop (790) fires: queued in the Action Center
    await eventually(
        lambda: (exit_of(api, trade_id) or {}).get("state") == "QUEUED_FOR_APPROVAL",
        message="exit queued",
    )
    [view] = await api.data("activetrades", {})
    assert view["state"] == "EXIT_FAILED"
    assert (view["exit"]["queued_for_approval"], view["exit"]["pending_order_id"]) == (True, "1")

    refused = await api.post("exittrade", {"trade_id": trade_id})
    assert refused.status_code == 409, refused.text
    assert "Action Center (pending order 1)" in refused.json()["message"]
    assert "pending_rejected" in refused.json()["message"]
    bad = await api.post("exittrade", {"trade_id": trade_id, "pending_rejected": "yes"})
    assert bad.status_code == 400, bad.text
    async with logged_in(api) as (client, token):
        ui = await client.post(
            f"/ui/api/trades/{trade_id}/exit", json={}, headers={"X-CSRF-Token": token}
        )
        assert ui.status_code == 409, ui.text
    assert (exit_of(api, trade_id) or {}).get("state") == "QUEUED_FOR_APPROVAL"
    assert len(api.stack.sim.api.action_center.rows()) == 1

    SimAdmin(api.stack.sim.api).reject(1)
    api.stack.sim.api.faults.update({"semi_auto": False})
    retried = await api.data("exittrade", {"trade_id": trade_id, "pending_rejected": True})
    assert retried["trade_id"] == trade_id
    await eventually(lambda: exit_of(api, trade_id) is None, message="closed")
    sells = [o for o in api.stack.sim.broker.book.orders.values() if o.request.action == "SELL"]
    assert len(sells) == 1
