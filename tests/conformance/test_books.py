"""Conformance: tradeguard against OpenAlgo's books: a position closed by hand is reconciled
(CLOSED_EXTERNALLY, no exit order), a position partly sold by hand exits only what is left when
the stop fires, and a restart with open trades takes them over and exits from there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.kit import OpenAlgo
from tests.conformance.world import open_stack, same_money

pytestmark = pytest.mark.conformance

SL = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}


@pytest.mark.asyncio
async def test_a_position_closed_by_hand_is_reconciled(oa: OpenAlgo, tmp_path: Path) -> None:
    async with open_stack(oa, tmp_path / "tg.db", reconcile_interval=1.0) as stack:
        await stack.price("ITC", "450")
        await stack.strategy("hand", **SL)
        before = await stack.net("ITC")
        ours = await stack.guard("hand", "ITC", 8)
        await stack.place("ITC", "SELL", 8, "by-hand")  # the trader closes it in OpenAlgo
        row = await stack.closed(ours["trade_id"])
        assert row["state"] == "CLOSED_EXTERNALLY"
        assert await stack.exit_orders(ours["trade_id"]) == []
        await stack.price("ITC", "440")  # far below the old stop: nothing is sent
        assert await stack.exit_orders(ours["trade_id"]) == []
        assert await stack.net("ITC") == before


@pytest.mark.asyncio
async def test_part_sold_by_hand_then_the_stop_sells_only_the_rest(
    oa: OpenAlgo, tmp_path: Path
) -> None:
    async with open_stack(oa, tmp_path / "tg.db") as stack:
        await stack.price("RELIANCE", "2900")
        await stack.strategy("part", **SL)
        assert await stack.net("RELIANCE") == 0  # nobody else holds it: the cap is ours
        ours = await stack.guard("part", "RELIANCE", 10)
        await stack.place("RELIANCE", "SELL", 4, "by-hand")
        assert await stack.net("RELIANCE") == 6
        await stack.price("RELIANCE", "2894")  # stop 2895.05
        await stack.closed(ours["trade_id"])
        await stack.one_exit(ours["trade_id"], 6, "STOP_LOSS")
        assert await stack.net("RELIANCE") == 0  # never sold short


@pytest.mark.asyncio
async def test_a_restart_takes_over_open_trades(oa: OpenAlgo, tmp_path: Path) -> None:
    db = tmp_path / "tg.db"
    async with open_stack(oa, db) as first:
        await first.price("SBIN", "800")
        await first.price("INFY", "1500")
        await first.strategy("restart", **SL)
        before = (await first.net("SBIN"), await first.net("INFY"))
        stopped = await first.guard("restart", "SBIN", 5)
        watched = await first.guard("restart", "INFY", 2)
        await first.price("SBIN", "797")
    await oa.ctl("set", "SBIN", "794")  # tradeguard is stopped: the market falls through
    async with open_stack(oa, db) as second:  # the stop fires on the first price it sees
        assert second.runtime.recovered is not None
        row = await second.closed(stopped["trade_id"])
        await second.one_exit(stopped["trade_id"], 5, "STOP_LOSS")
        assert same_money(row["exit_price"], "793.95")
        assert second.active(watched["trade_id"]) is not None  # still guarded after the restart
        await second.price("INFY", "1494")  # its stop (1495.05) fires in the new process
        await second.closed(watched["trade_id"])
        await second.one_exit(watched["trade_id"], 2, "STOP_LOSS")
        assert (await second.net("SBIN"), await second.net("INFY")) == before
