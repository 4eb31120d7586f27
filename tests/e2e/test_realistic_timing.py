"""End to end against the simulator's realistic broker timing (order reports 1-2 s late and
polled every 2-3 s, no order pushes, the position book ahead of the order book), where it
matters beyond the exit scenarios of test_exits.py (which run with it too)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.e2e.world import (
    ACCOUNT,
    ACTOR,
    assert_one_exit,
    closed,
    exit_orders,
    guard,
    net,
    same_money,
    strategy,
    trade,
)
from tests.helpers import eventually
from tests.stack import FAST_POLICY, REALISTIC_TIMING, running_stack
from tradeguard.app.service import CreateTrade
from tradeguard.core.broker import OrderRequest

SL = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}


@pytest.mark.asyncio
async def test_two_exits_on_one_key_each_sell_their_own_quantity_when_reports_are_late(
    tmp_path: Path,
) -> None:
    """Issue 11, failure 1: the first exit fills at the broker (the position book shows it)
    while its report still says open; the second exit's cap counts the first one twice (in the
    net and as still working) and sells too little, or nothing, leaving shares unguarded."""
    async with running_stack(tmp_path, timing=REALISTIC_TIMING) as stack:
        await strategy(stack, "main", **SL)
        first = await guard(stack, "main", "SBIN", "BUY", 4)
        second = await guard(stack, "main", "SBIN", "BUY", 10)
        assert net(stack, "SBIN") == 14
        stack.price("SBIN", "794")
        await closed(stack, first["trade_id"])
        await closed(stack, second["trade_id"])
        assert len(exit_orders(stack)) == 2
        assert_one_exit(stack, first["trade_id"], "SELL", 4, "STOP_LOSS")
        assert_one_exit(stack, second["trade_id"], "SELL", 10, "STOP_LOSS")
        assert net(stack, "SBIN") == 0


@pytest.mark.asyncio
async def test_an_exit_still_working_when_the_resolver_gives_up_is_watched_until_final(
    tmp_path: Path,
) -> None:
    """The exit order fills at once, but its report lags and only shows when polled: the
    executor stops waiting (resolve_timeout) while it still reads `open`. No order push, no
    reconnect, no periodic reconcile and no clock step will ever look again: the exit watch
    must, or the trade stays EXITING with nobody watching it."""
    policy = replace(FAST_POLICY, resolve_timeout=0.3)
    async with running_stack(
        tmp_path,
        timing=REALISTIC_TIMING,
        reconcile_interval=None,
        clock_interval=3600.0,
        policy=policy,
    ) as stack:
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        tid = ours["trade_id"]
        stack.price("SBIN", "794")
        await eventually(lambda: exit_orders(stack, tid), message="exit sent")
        watch = stack.runtime.monitor.watch
        row = await closed(stack, tid)
        assert row["state"] == "CLOSED"
        assert_one_exit(stack, tid, "SELL", 10, "STOP_LOSS")
        assert net(stack, "SBIN") == 0
        assert watch.finished == 1
        rounds = watch.rounds
        assert await watch.round() == 0
        assert watch.rounds == rounds, "nothing is read while no exit order works"


@pytest.mark.asyncio
async def test_an_exit_rejected_after_submit_says_plainly_that_no_reason_is_known(
    tmp_path: Path,
) -> None:
    """Without order pushes the rejection is learnt from orderstatus, whose rows carry no
    rejection reason (as OpenAlgo's): the trader reads that, not "rejected: rejected"."""
    async with running_stack(tmp_path, timing=REALISTIC_TIMING) as stack:
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        tid = ours["trade_id"]
        stack.sim.broker.reject_next(1, "RMS: margin exceeds available cash", at_submit=False)
        stack.price("SBIN", "794")
        await eventually(
            lambda: trade(stack, tid)["state"] == "EXIT_FAILED", timeout=stack.patience
        )
        stored = await stack.store.trade(tid)
        assert stored is not None
        [(report, _tag)] = exit_orders(stack, tid)
        assert stored.exit_message == (
            f"exit order {report.order_id} rejected by the broker; its reason is not known here "
            "(OpenAlgo's order status carries none when there is no order push): see the order "
            "in the broker's order book"
        )
        assert net(stack, "SBIN") == 10


@pytest.mark.asyncio
async def test_createtrade_right_after_a_market_entry_waits_for_its_late_fill_report(
    tmp_path: Path,
) -> None:
    """The entry is a market order that filled at once, but the broker reports it seconds
    later (no order push): createtrade called as soon as placeorder answered must guard it
    at its fill price, not refuse it as `open`."""
    async with running_stack(tmp_path, timing=REALISTIC_TIMING) as stack:
        await strategy(stack, "main", **SL)
        placed = await stack.gateway.place_order(
            OrderRequest("SBIN", "NSE", "BUY", 5, "MIS", "main-entry")
        )
        assert placed.order_id is not None
        view = await stack.service.create_trade(
            ACCOUNT, CreateTrade(strategy="main", order_id=placed.order_id), actor=ACTOR
        )
        assert (view["quantity"], view["entry_order_id"]) == (5, placed.order_id)
        assert same_money(view["entry_price"], "800")
        assert net(stack, "SBIN") == 5
