"""Conformance: every exit kind against the real OpenAlgo (sandbox fills: BUY at LTP + 0.05,
SELL at LTP - 0.05), checked in OpenAlgo's own order and position books: stop-loss, target,
trailing stop (points and percent), smart-order mode beside someone else's shares, a manual
exittrade, and exitall across symbols."""

from __future__ import annotations

import pytest

from tests.conformance.world import RealStack, same_money

pytestmark = pytest.mark.conformance


def points(kind: str, value: str) -> dict[str, object]:
    return {f"enable_{kind}": True, f"{kind}_type": "POINTS", f"{kind}_value": value}


@pytest.mark.asyncio
async def test_stop_loss(stack: RealStack) -> None:
    await stack.price("SBIN", "800")
    await stack.strategy("sl", **points("sl", "5"))
    before = await stack.net("SBIN")
    ours = await stack.guard("sl", "SBIN", 10)
    assert same_money(ours["entry_price"], "800.05")  # the sandbox's ask
    await stack.price("SBIN", "796")  # above the stop (795.05): nothing
    await stack.price("SBIN", "795")
    row = await stack.closed(ours["trade_id"])
    exit_row = await stack.one_exit(ours["trade_id"], 10, "STOP_LOSS")
    assert same_money(exit_row["average_price"], "794.95")
    assert same_money(row["exit_price"], "794.95")
    assert await stack.net("SBIN") == before


@pytest.mark.asyncio
async def test_target(stack: RealStack) -> None:
    await stack.price("INFY", "1500")
    await stack.strategy("tp", **points("target", "10"))
    before = await stack.net("INFY")
    ours = await stack.guard("tp", "INFY", 3)
    await stack.price("INFY", "1509")  # target 1510.05
    await stack.price("INFY", "1511")
    row = await stack.closed(ours["trade_id"])
    await stack.one_exit(ours["trade_id"], 3, "TARGET")
    assert same_money(row["exit_price"], "1510.95")
    assert await stack.net("INFY") == before


@pytest.mark.asyncio
async def test_trailing_stop_in_points(stack: RealStack) -> None:
    await stack.price("RELIANCE", "2900")
    trail = {"enable_trailing_sl": True, "trailing_sl_type": "POINTS", "trailing_sl_value": "10"}
    await stack.strategy("trail", **trail)
    before = await stack.net("RELIANCE")
    ours = await stack.guard("trail", "RELIANCE", 2)
    await stack.price("RELIANCE", "2930")  # the stop trails up to 2920
    await stack.price("RELIANCE", "2921")  # still above it
    assert stack.active(ours["trade_id"]) is not None
    await stack.price("RELIANCE", "2919")
    row = await stack.closed(ours["trade_id"])
    await stack.one_exit(ours["trade_id"], 2, "TRAILING_STOP")
    assert same_money(row["exit_price"], "2918.95")
    assert await stack.net("RELIANCE") == before


@pytest.mark.asyncio
async def test_trailing_stop_in_percent(stack: RealStack) -> None:
    await stack.price("ITC", "450")
    trail = {"enable_trailing_sl": True, "trailing_sl_type": "PERCENT", "trailing_sl_value": "1"}
    await stack.strategy("trailpct", **trail)
    before = await stack.net("ITC")
    ours = await stack.guard("trailpct", "ITC", 20)
    await stack.price("ITC", "460")  # 1% below 460: 455.40
    await stack.price("ITC", "455.5")
    assert stack.active(ours["trade_id"]) is not None
    await stack.price("ITC", "455.3")
    await stack.closed(ours["trade_id"])
    await stack.one_exit(ours["trade_id"], 20, "TRAILING_STOP")
    assert await stack.net("ITC") == before


@pytest.mark.asyncio
async def test_smart_order_exit_leaves_someone_elses_shares(stack: RealStack) -> None:
    await stack.price("TCS", "3900")
    await stack.strategy("smart", exit_order_mode="SMARTORDER", **points("sl", "20"))
    before = await stack.net("TCS")
    await stack.place("TCS", "BUY", 5, "someone-else")  # not guarded by tradeguard
    ours = await stack.guard("smart", "TCS", 4)
    assert await stack.net("TCS") == before + 9
    await stack.price("TCS", "3879")  # stop 3880.05
    await stack.closed(ours["trade_id"])
    await stack.one_exit(ours["trade_id"], 4, "STOP_LOSS")
    assert await stack.net("TCS") == before + 5  # their 5 stay
    await stack.place("TCS", "SELL", 5, "someone-else")


@pytest.mark.asyncio
async def test_manual_exittrade(stack: RealStack) -> None:
    await stack.price("SBIN", "800")
    await stack.strategy("manual", **points("sl", "50"))
    before = await stack.net("SBIN")
    ours = await stack.guard("manual", "SBIN", 6)
    await stack.service.exit_trade("acct", ours["trade_id"], actor="conformance")
    row = await stack.closed(ours["trade_id"])
    await stack.one_exit(ours["trade_id"], 6, "MANUAL")
    assert same_money(row["exit_price"], "799.95")
    assert await stack.net("SBIN") == before


@pytest.mark.asyncio
async def test_exitall_across_symbols(stack: RealStack) -> None:
    await stack.price("SBIN", "800")
    await stack.price("INFY", "1500")
    await stack.strategy("all", **points("sl", "50"))
    before = (await stack.net("SBIN"), await stack.net("INFY"))
    a = await stack.guard("all", "SBIN", 3)
    b = await stack.guard("all", "INFY", 2)
    await stack.service.exit_all("acct", "all", actor="conformance")
    await stack.closed(a["trade_id"])
    await stack.closed(b["trade_id"])
    await stack.one_exit(a["trade_id"], 3, "MANUAL_ALL")
    await stack.one_exit(b["trade_id"], 2, "MANUAL_ALL")
    assert (await stack.net("SBIN"), await stack.net("INFY")) == before
