"""Tests: the database taken away while tradeguard runs (in-process stack over real sockets).

SQLite's write lock is held by another connection (as a second process would) while ticks keep
coming: exits still fire and reach the simulator, health says degraded with pending writes;
once the lock is released every queued write lands in order and health is ok again.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.world import ACCOUNT, exit_orders, guard, strategy
from tests.helpers import eventually, sqlite_write_lock
from tests.stack import Stack, running_stack
from tradeguard.core.money import to_units


def rows(path: Path, sql: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql)]
    finally:
        db.close()


def actions(path: Path, trade_id: str) -> list[str]:
    found = rows(path, "SELECT subject, action, detail FROM audit ORDER BY id")
    return [r["action"] for r in found if r["subject"] == trade_id]


def health(stack: Stack) -> dict[str, Any]:
    return stack.service.health()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_exits_fire_during_an_outage_and_every_queued_write_lands_in_order(
    tmp_path: Path,
) -> None:
    db = tmp_path / "tg.db"
    async with running_stack(tmp_path) as stack:
        await strategy(
            stack,
            "s1",
            enable_sl=True,
            sl_type="POINTS",
            sl_value="2",
            enable_trailing_sl=True,
            trailing_sl_type="POINTS",
            trailing_sl_value="5",
        )
        sbin = (await guard(stack, "s1", "SBIN", "BUY", 10))["trade_id"]
        infy = (await guard(stack, "s1", "INFY", "BUY", 5))["trade_id"]
        tcs = (await guard(stack, "s1", "TCS", "BUY", 2))["trade_id"]

        with sqlite_write_lock(db):
            stack.price("INFY", "1510")  # trail 1505: held in memory, flushes queue up
            stack.price("TCS", "4001")
            stack.price("SBIN", "797.5")  # through SBIN's stop (798)
            await eventually(lambda: exit_orders(stack, sbin), timeout=10, message="exit sent")
            await eventually(
                lambda: sbin not in {t["trade_id"] for t in stack.service.active_trades(ACCOUNT)},
                timeout=10,
                message="SBIN closed in memory",
            )
            state = health(stack)
            assert state["status"] == "degraded"
            assert "database" in state["degraded"]
            assert state["database"]["pending_writes"] > 0
            assert stack.store.degraded
            # what is on disk is still the state before the outage
            assert {r["trade_id"]: r["state"] for r in rows(db, "SELECT * FROM trades")}[
                sbin
            ] == "ACTIVE"
            stack.price("INFY", "1512")  # a later change must win over the queued one

        await eventually(
            lambda: not stack.store.degraded and stack.store.pending == 0,
            timeout=15,
            message="queue replayed",
        )
        stack.price("INFY", "1511")  # fresh ticks: no symbol is stale
        stack.price("TCS", "4002")
        await eventually(lambda: health(stack)["status"] == "ok", timeout=10, message="ok")
        assert health(stack)["database"] == {
            "degraded": False,
            "pending_writes": 0,
            "refused_records": {"count": 0, "records": []},
        }

        await eventually(
            lambda: (
                rows(db, f"SELECT * FROM trades WHERE trade_id = '{infy}'")[0]["best_price"]
                == to_units("1512")
            ),
            timeout=5,
        )
        trades = {r["trade_id"]: r for r in rows(db, "SELECT * FROM trades")}
        [(order, _tag)] = exit_orders(stack, sbin)
        closed = trades[sbin]
        assert (closed["state"], closed["exit_order_id"]) == ("CLOSED", order.order_id)
        assert closed["exit_price"] == order.average_price
        assert trades[infy]["trailing_level"] == to_units("1507")
        assert trades[tcs]["state"] == "ACTIVE"
        trail = actions(db, sbin)
        assert trail[0] == "trade_created"
        assert [a for a in trail if a.startswith("exit_")][:3] == [
            "exit_intent",
            "exit_sent",
            "exit_filled",
        ]
        assert trail.index("exit_intent") < trail.index("exit_sent") < trail.index("exit_filled")
        intent = [
            json.loads(r["detail"])
            for r in rows(db, "SELECT * FROM audit WHERE action = 'exit_intent'")
        ]
        assert intent[0]["tick_price"] == to_units("797.5")
