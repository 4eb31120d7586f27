"""Tests: an exit order that OpenAlgo takes long to acknowledge (its first order after a
re-login can take ~10 s) raises a critical alert while it waits, for the trade's account, then
an alert saying how long it took; the exit still completes. Real stack over real sockets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.helpers import eventually


@pytest.mark.asyncio
async def test_a_slowly_acknowledged_exit_alerts_then_reports_its_delay(api: Api) -> None:
    watch = api.stack.runtime.ack_watch
    assert watch is not None
    assert watch.after == 5.0  # the default
    watch.after = 0.2  # the exit's reply comes after ~1 s: 0.2 s is "too long" here
    await api.strategy()  # stop 10 points below the entry
    order_id = await api.stack.fill_entry("SBIN", "BUY", 4)
    view = await api.data("createtrade", {"strategy": "s1", "orderid": order_id})
    await api.move("SBIN", "795")
    api.stack.sim.api.faults.update(
        {"order_reply": "late", "order_reply_delay_ms": 1000, "order_reply_count": 1}
    )
    api.stack.price("SBIN", "789")  # through the stop at 790

    def alerts() -> list[dict[str, Any]]:
        return [
            e["data"]
            for e in api.stack.service.recent_events("alice")
            if e["kind"] == "alert" and e["data"].get("endpoint") == "placeorder"
        ]

    slow, answered = await eventually(
        lambda: alerts() if len(alerts()) == 2 else None, timeout=10, message="two alerts"
    )
    assert slow["level"] == "critical"
    assert "not acknowledged after 0.2s" in slow["message"]
    assert (slow["trade_id"], slow["symbol"], slow["action"], slow["quantity"]) == (
        view["trade_id"],
        "SBIN",
        "SELL",
        4,
    )
    assert answered["level"] == "info"
    assert "acknowledged after" in answered["message"]
    assert watch.slow == 1
    assert not any(e["kind"] == "alert" for e in api.stack.service.recent_events("bob"))

    async def closed() -> bool:
        rows = await api.stack.service.trade_history("alice", 10)
        return [row["state"] for row in rows] == ["CLOSED"]

    await eventually(closed, timeout=api.stack.patience, message="the exit completes")
