"""End to end: exits in OpenAlgo's semi-auto mode over the real stack against the simulator's
Action Center. A queued exit is recorded with its pending order id (QUEUED_FOR_APPROVAL), shown
on the trade, alerted; no second exit is placed for the trade while it may be approved (a
retry without the trader's word that it was rejected is refused, and nothing else queues a
second order); an approved one is adopted and closes the trade (exactly one sell at the
broker); a rejected one plus the trader's confirmed retry sells exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.world import (
    ACCOUNT,
    assert_one_exit,
    closed,
    exit_orders,
    guard,
    manual,
    net,
    same_money,
    state,
    strategy,
)
from tests.helpers import eventually
from tests.stack import Stack, running_stack
from tradeguard.adapters.sim.rest_admin import SimAdmin
from tradeguard.app.errors import Conflict

SL = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}


def semi_auto(stack: Stack, on: bool) -> None:
    stack.sim.api.faults.update({"semi_auto": on})
    stack.runtime.monitor.executor.queued.interval = 0.05  # the order-book watch, fast


def action_center(stack: Stack) -> list[dict[str, Any]]:
    return stack.sim.api.action_center.rows()


async def audit_actions(stack: Stack, trade_id: str) -> list[str]:
    return [a.action for a in await stack.store.audit_entries(trade_id)]


async def queued_trade(stack: Stack) -> str:
    """A guarded SBIN long of 10 (next to 5 bought by hand) whose stop fires in semi-auto
    mode: its exit waits in the Action Center. Returns the trade id."""
    await strategy(stack, "main", **SL)
    ours = await guard(stack, "main", "SBIN", "BUY", 10)
    manual(stack, "SBIN", "BUY", 5)
    semi_auto(stack, True)
    stack.price("SBIN", "794")
    trade_id: str = ours["trade_id"]
    view = await state(stack, trade_id, "EXIT_FAILED")
    exit_view = view["exit"]
    assert exit_view["state"] == "QUEUED_FOR_APPROVAL"
    assert exit_view["queued_for_approval"] is True
    assert exit_view["pending_order_id"] == "1"
    assert "Action Center" in exit_view["message"]
    [row] = action_center(stack)
    request = row["request"]
    assert (row["status"], request["action"], int(request["quantity"])) == ("pending", "SELL", 10)
    health = stack.service.health()
    assert "exits_queued" in health["degraded"]
    assert health["monitor"]["exits_queued"] == [trade_id]
    assert exit_orders(stack, trade_id) == []  # nothing placed
    assert net(stack, "SBIN") == 15
    return trade_id


async def refused_retry(stack: Stack, trade_id: str) -> None:
    """A retry without `pending_rejected` is refused with what to do; nothing changes."""
    with pytest.raises(Conflict, match=r"queued for approval .*pending order 1.*pending_rejected"):
        await stack.service.exit_trade(ACCOUNT, trade_id, actor="person")
    view = await state(stack, trade_id, "EXIT_FAILED")
    assert view["exit"]["state"] == "QUEUED_FOR_APPROVAL"
    assert len(action_center(stack)) == 1  # no second order to approve


@pytest.mark.asyncio
async def test_an_approved_queued_exit_closes_the_trade_on_that_order(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        trade_id = await queued_trade(stack)

        def told() -> bool:
            alerts = [e.data for e in stack.runtime.bus.recent if e.kind == "alert"]
            return any(
                a["level"] == "critical" and "APPROVE pending order 1" in a["message"]
                for a in alerts
            )

        await eventually(told, message="the critical alert says what to do")
        await refused_retry(stack, trade_id)
        stack.price("SBIN", "790")  # the trade fires nothing more while it waits
        assert len(action_center(stack)) == 1

        approved = SimAdmin(stack.sim.api).approve(1)  # the trader approves it in OpenAlgo
        row = await closed(stack, trade_id)
        report = assert_one_exit(stack, trade_id, "SELL", 10)
        assert report.order_id == approved.order_id
        assert row["exit_order_id"] == approved.order_id
        assert same_money(row["exit_price"], "790")
        assert net(stack, "SBIN") == 5  # the 5 bought by hand stay
        assert len(action_center(stack)) == 1
        assert stack.service.health()["monitor"]["exits_queued"] == []
        actions = await audit_actions(stack, trade_id)
        assert "exit_queued" in actions
        assert "exit_adopted" in actions
        assert "exit_filled" in actions
        ledger = await stack.store.exit_orders(trade_id)
        assert [(r.state, r.pending_id, r.order_id) for r in ledger] == [
            ("FILLED", "1", approved.order_id)
        ]


@pytest.mark.asyncio
async def test_a_rejected_queued_exit_is_retried_only_on_the_traders_word(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        trade_id = await queued_trade(stack)
        SimAdmin(stack.sim.api).reject(1)  # the trader rejects it in OpenAlgo
        await refused_retry(stack, trade_id)  # tradeguard cannot know it was rejected
        semi_auto(stack, False)
        await stack.service.exit_trade(ACCOUNT, trade_id, actor="person", pending_rejected=True)
        row = await closed(stack, trade_id)
        assert row["state"] == "CLOSED"
        assert_one_exit(stack, trade_id, "SELL", 10)
        assert net(stack, "SBIN") == 5
        actions = await audit_actions(stack, trade_id)
        assert actions.index("exit_queued_rejected") < actions.index("exit_filled")
        entries = await stack.store.audit_entries(trade_id)
        given_up = next(e for e in entries if e.action == "exit_queued_rejected")
        assert given_up.detail["actor"] == "person"
        ledger = await stack.store.exit_orders(trade_id)
        assert [(r.state, r.pending_id) for r in ledger] == [("ABANDONED", "1"), ("FILLED", None)]


@pytest.mark.asyncio
async def test_a_confirmed_retry_still_in_semi_auto_queues_one_new_order(tmp_path: Path) -> None:
    """The retry goes to the Action Center again: one new pending order (the old one was
    rejected), the same protection again: never two approvable orders for one trade."""
    async with running_stack(tmp_path) as stack:
        trade_id = await queued_trade(stack)
        SimAdmin(stack.sim.api).reject(1)
        await stack.service.exit_trade(ACCOUNT, trade_id, actor="person", pending_rejected=True)
        await eventually(
            lambda: [r["status"] for r in action_center(stack)] == ["rejected", "pending"],
            message="one new pending order",
        )
        view = await state(stack, trade_id, "EXIT_FAILED")
        assert view["exit"]["pending_order_id"] == "2"
        with pytest.raises(Conflict, match="pending order 2"):
            await stack.service.exit_trade(ACCOUNT, trade_id, actor="person")
        assert [r["status"] for r in action_center(stack)] == ["rejected", "pending"]
        SimAdmin(stack.sim.api).approve(2)
        await closed(stack, trade_id)
        assert_one_exit(stack, trade_id, "SELL", 10)
        assert net(stack, "SBIN") == 5
