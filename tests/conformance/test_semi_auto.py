"""Conformance: a stop that fires while the real OpenAlgo is in semi-auto mode (`ctl mode
semi_auto`). OpenAlgo queues the exit in its Action Center (`pending_order_id`, no order id):
tradeguard records it QUEUED_FOR_APPROVAL with that id and places nothing else for the trade
(a retry without the trader's word is refused, so the Action Center never holds a second
order of the trade to approve); approved there, OpenAlgo places it and tradeguard adopts it
from the order book and closes the trade on its fill: one SELL at OpenAlgo."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conformance.action_center import ActionCenter, action_center
from tests.conformance.kit import OpenAlgo
from tests.conformance.world import ACCOUNT, RealStack, same_money
from tests.helpers import eventually
from tradeguard.app.errors import Conflict

pytestmark = pytest.mark.conformance

SL = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}


@pytest_asyncio.fixture
async def center(oa: OpenAlgo) -> AsyncIterator[ActionCenter]:
    async with action_center(oa) as opened:
        try:
            yield opened
        finally:
            await oa.ctl("mode", "auto")  # every other test places in auto mode


def ours(rows: list[dict[str, object]], trade_id: str) -> list[dict[str, object]]:
    return [r for r in rows if str(r.get("strategy", "")).endswith(f":{trade_id}")]


@pytest.mark.asyncio
async def test_semi_auto_stop_is_queued_once_and_closes_when_approved(
    stack: RealStack, center: ActionCenter
) -> None:
    stack.runtime.monitor.executor.queued.interval = 0.5  # the order-book watch
    await stack.price("TCS", "3900")
    await stack.strategy("semi", **SL)
    before = await stack.net("TCS")
    trade = await stack.guard("semi", "TCS", 4)  # entered in auto mode
    trade_id = trade["trade_id"]
    await stack.oa.ctl("mode", "semi_auto")
    await stack.price("TCS", "3894")  # stop 3895.05

    def queued() -> dict[str, object] | None:
        view = stack.active(trade_id)
        exit_view = view and view.get("exit")
        if not exit_view or exit_view["state"] != "QUEUED_FOR_APPROVAL":
            return None
        return exit_view

    exit_view = await eventually(queued, timeout=30.0, message="exit queued for approval")
    assert exit_view["pending_order_id"]
    assert stack.active(trade_id)["state"] == "EXIT_FAILED"  # type: ignore[index]
    pending_id = int(str(exit_view["pending_order_id"]))
    [row] = ours(await center.orders("pending"), trade_id)
    assert (row["id"], row["action"], int(str(row["quantity"]))) == (pending_id, "SELL", 4)
    assert await stack.exit_orders(trade_id) == []  # nothing placed
    assert await stack.net("TCS") == before + 4

    with pytest.raises(Conflict, match="pending_rejected"):
        await stack.service.exit_trade(ACCOUNT, trade_id, actor="person")
    await stack.price("TCS", "3890")  # fires nothing more while it waits
    assert len(ours(await center.orders("all"), trade_id)) == 1  # one order to approve

    await center.approve(pending_id)
    row_closed = await stack.closed(trade_id)
    exit_row = await stack.one_exit(trade_id, 4, "STOP_LOSS")
    assert row_closed["exit_order_id"] == str(exit_row["orderid"])
    assert same_money(row_closed["exit_price"], "3889.95")
    assert await stack.net("TCS") == before
    assert len(ours(await center.orders("all"), trade_id)) == 1
