"""End to end: reconciliation with the broker's books while tradeguard runs, over the real
simulator (REST + WebSocket), the real OpenAlgo gateway and feed, and a real SQLite store.

- every feed reconnect reconciles at once (the feed's on_reconnect callback is wired as in
  `tradeguard run`), so an exit fill whose order update was lost while the feed was down still
  closes the trade at the real fill price, even if no clock step saw the feed down;
- positions are reconciled every `reconcile_interval`: a position closed by hand at the broker
  becomes CLOSED_EXTERNALLY by itself;
- a reconciliation never takes a trade whose own exit is running for "closed externally".

Faults are injected through the simulator's admin endpoints (`/sim/admin/faults`,
`/sim/admin/feed`), as an operator would.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.world import (
    assert_one_exit,
    closed,
    exit_orders,
    guard,
    manual,
    net,
    same_money,
    state,
    strategy,
    trade,
)
from tests.helpers import eventually
from tests.stack import DEFAULT_TIMING, FAST_POLICY, Stack, running_stack
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER

SL = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}
NEVER = 3600.0  # a clock step that never comes during a test


async def admin(stack: Stack, what: str, **spec: Any) -> dict[str, Any]:
    """POST /sim/admin/<what> (faults | feed) on the simulator's REST server."""
    base = stack.sim.rest_url.split("/api/")[0]
    async with httpx.AsyncClient(
        base_url=base, trust_env=False, headers={ADMIN_KEY_HEADER: stack.sim.apikey}
    ) as http:
        reply = await http.post(f"/sim/admin/{what}", json=spec)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


@pytest.mark.asyncio
async def test_an_exit_fill_lost_while_the_feed_was_down_closes_the_trade_on_reconnect(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The exit order is still working when the resolver stops waiting for it; it fills while
    the feed is down (its order update goes nowhere); the feed is back before any clock step
    (there is none: clock_interval is an hour) and there is no periodic reconcile: the
    reconnect alone reconciles, and the trade is CLOSED at the real fill price."""
    # With instant reports the reconnect's reconciliation alone must close it: the exit watch
    # (which would find the fill in the order book too) is kept out of the way. With late
    # reports the reconciliation reads the order still `open` and keeps tracking it, and the
    # exit watch finishes it (test_realistic_timing.py tests the watch alone).
    watch = FAST_POLICY.watch_interval if DEFAULT_TIMING else NEVER
    policy = replace(FAST_POLICY, resolve_timeout=0.3, watch_interval=watch)
    async with running_stack(
        tmp_path, reconcile_interval=None, clock_interval=NEVER, policy=policy
    ) as stack:
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        tid = ours["trade_id"]
        await admin(stack, "faults", fill_late=True)  # orders are accepted, held open
        stack.price("SBIN", "794")  # the stop fires; the exit order stays open
        await state(stack, tid, "EXITING")
        [(order, _tag)] = await eventually(lambda: exit_orders(stack, tid), message="exit sent")
        executor = stack.runtime.executor
        await eventually(lambda: not executor.in_flight(), message="resolver gave up")
        assert trade(stack, tid)["state"] == "EXITING"

        feed = stack.feed
        dropped = await admin(stack, "feed", refuse=True, drop=True)
        assert dropped["dropped"] == 1
        await eventually(lambda: not feed.connected, message="feed down")
        stack.price("SBIN", "793")
        released = await admin(stack, "faults", fill_late=False, release_late=True)
        assert released["released"] == [order.order_id]  # filled: nobody hears the update
        assert executor.tracker.final(order.order_id) is None
        assert trade(stack, tid)["state"] == "EXITING"

        # a close is logged at DEBUG (the terminal shows its `closed` event instead)
        caplog.set_level(logging.DEBUG, logger="tradeguard.app.recovery")
        await admin(stack, "feed", refuse=False)
        row = await closed(stack, tid)
        assert feed.reconnects == 1
        assert row["state"] == "CLOSED"
        report = assert_one_exit(stack, tid, "SELL", 10, "STOP_LOSS")
        assert report.average_price == 7_930_000
        assert same_money(row["exit_price"], "793")
        assert net(stack, "SBIN") == 0
        assert any(
            "reconcile:" in r.getMessage() and order.order_id in r.getMessage()
            for r in caplog.records
        ), "closed by the reconnect's reconciliation"
        # the trade closes inside the reconciliation, which is counted once it returns
        monitor = stack.runtime.monitor
        await eventually(lambda: monitor.reconciles >= 1, message="reconciliation counted")
        assert monitor.reconciles == 1


@pytest.mark.asyncio
async def test_a_position_closed_by_hand_becomes_closed_externally_by_itself(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, reconcile_interval=0.3) as stack:
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        stays = await guard(stack, "main", "INFY", "BUY", 3)
        manual(stack, "SBIN", "SELL", 10)  # the trader closed it in the broker's app
        assert net(stack, "SBIN") == 0

        row = await closed(stack, ours["trade_id"], within=5.0)
        assert row["state"] == "CLOSED_EXTERNALLY"
        assert exit_orders(stack) == []
        assert stack.feed.reconnects == 0  # no feed drop involved: the periodic round did it
        assert trade(stack, stays["trade_id"])["state"] == "ACTIVE"
        await eventually(lambda: ("SBIN", "NSE") not in stack.feed.subscribed())
        stack.price("SBIN", "790")  # no longer guarded: nothing fires
        rounds = stack.runtime.monitor.reconciles
        await eventually(lambda: stack.runtime.monitor.reconciles >= rounds + 2)
        assert exit_orders(stack) == []
        assert trade(stack, stays["trade_id"])["state"] == "ACTIVE"  # rounds change nothing else
        audits = [a.action for a in await stack.store.audit_entries(ours["trade_id"])]
        assert audits.count("reconcile_closed_externally") == 1


@pytest.mark.asyncio
async def test_a_reconcile_never_takes_a_running_exit_for_a_closed_position(
    tmp_path: Path,
) -> None:
    """The exit order fills while the feed is down and the executor is still waiting for its
    outcome (its next status poll is far away): the position is gone, and periodic rounds run
    meanwhile. They leave the trade to its exit, which closes it at the real fill price once
    its poll reads the fill (made here, after the rounds: a poll due after some seconds came
    first on a loaded machine, where two rounds took longer than that)."""
    policy = replace(FAST_POLICY, poll_interval=3600.0, poll_max_interval=3600.0)
    policy = replace(policy, resolve_timeout=7200.0)
    async with running_stack(tmp_path, reconcile_interval=0.2, policy=policy) as stack:
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        tid = ours["trade_id"]
        await admin(stack, "faults", fill_late=True)
        stack.price("SBIN", "794")
        [(order, _tag)] = await eventually(lambda: exit_orders(stack, tid), message="exit sent")
        await admin(stack, "feed", refuse=True, drop=True)
        await eventually(lambda: not stack.feed.connected, message="feed down")
        stack.price("SBIN", "793")
        released = await admin(stack, "faults", fill_late=False, release_late=True)
        assert released["released"] == [order.order_id]
        assert net(stack, "SBIN") == 0
        assert tid in stack.runtime.executor.in_flight()

        monitor = stack.runtime.monitor
        rounds = monitor.reconciles
        await eventually(lambda: monitor.reconciles >= rounds + 2, message="two rounds")
        assert tid in stack.runtime.executor.in_flight()  # they ran while the exit waited
        assert trade(stack, tid)["state"] == "EXITING"

        tracker = stack.runtime.executor.tracker

        async def poll_reads_the_fill() -> bool:  # the exit's status poll, brought forward
            report = await tracker.refresh(order.order_id, "main")
            return report is not None and report.status.is_final

        # (a broker with late reports may answer `open` for a while)
        await eventually(poll_reads_the_fill, interval=0.25, timeout=30, message="fill read")
        row = await closed(stack, tid, within=10.0)
        assert row["state"] == "CLOSED"
        assert same_money(row["exit_price"], "793")
        assert_one_exit(stack, tid, "SELL", 10, "STOP_LOSS")
        audits = [a.action for a in await stack.store.audit_entries(tid)]
        assert "exit_filled" in audits
        assert not [a for a in audits if a.startswith("reconcile_")]
        await admin(stack, "feed", refuse=False)
        await eventually(lambda: stack.feed.connected, message="feed back")
