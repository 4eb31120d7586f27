"""End to end over real HTTP and WebSocket: every exit kind sends exactly one exit order for the
trade's own quantity, closes the trade at the simulator's fill price, and leaves another
strategy's trade and a manual position on the same symbol untouched.

Each test runs twice: with an instant broker and with the simulator's realistic broker timing
(order reports 1-2 s late and polled every 2-3 s, no order pushes, a slow placement now and
then), as brokers without push behave through OpenAlgo.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
    money,
    net,
    same_money,
    state,
    strategy,
    trade,
)
from tests.helpers import eventually
from tests.stack import BROKER_TIMINGS, Stack, running_stack


@pytest.fixture(params=sorted(BROKER_TIMINGS))
def timing(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The simulator's broker timing: instant, then realistic."""
    return BROKER_TIMINGS[request.param]


OTHER_QTY = 7
MANUAL_QTY = 5


@dataclass(frozen=True)
class Case:
    """A strategy's settings, the guarded trade's side, rules overrides and the price path."""

    settings: dict[str, Any]
    action: str
    path: tuple[str, ...]
    reason: str
    rules: dict[str, Any] | None = None


def points(kind: str, value: str) -> dict[str, Any]:
    return {f"enable_{kind}": True, f"{kind}_type": "POINTS", f"{kind}_value": value}


CASES = {
    "stop_loss_long": Case(points("sl", "5"), "BUY", ("797", "794"), "STOP_LOSS"),
    "stop_loss_short": Case(points("sl", "5"), "SELL", ("803", "806"), "STOP_LOSS"),
    "target_long": Case(points("target", "5"), "BUY", ("803", "806"), "TARGET"),
    "target_short": Case(points("target", "5"), "SELL", ("797", "794"), "TARGET"),
    "trailing_long": Case(
        {"enable_trailing_sl": True, "trailing_sl_type": "POINTS", "trailing_sl_value": "5"},
        "BUY",
        ("810", "806", "804"),
        "TRAILING_STOP",
    ),
    "breakeven_long": Case(
        points("sl", "10")
        | {
            "enable_breakeven": True,
            "breakeven_trigger_type": "POINTS",
            "breakeven_trigger_value": "3",
        },
        "BUY",
        ("804", "801", "799.95"),
        "BREAKEVEN_STOP",
    ),
}


async def _with_bystanders(stack: Stack, case: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bystander strategy's LONG/SHORT 7 and a manual 5 on SBIN, then the guarded 10."""
    await strategy(stack, "other")  # no rules: never exits by itself
    await strategy(stack, "main", **case.settings)
    other = await guard(stack, "other", "SBIN", case.action, OTHER_QTY)
    manual(stack, "SBIN", case.action, MANUAL_QTY)
    ours = await guard(stack, "main", "SBIN", case.action, 10, **(case.rules or {}))
    sign = 1 if case.action == "BUY" else -1
    assert net(stack, "SBIN") == sign * (OTHER_QTY + MANUAL_QTY + 10)
    return ours, other


async def _check_exit(
    stack: Stack, ours: dict[str, Any], other: dict[str, Any], case: Case
) -> None:
    exit_action = "SELL" if case.action == "BUY" else "BUY"
    row = await closed(stack, ours["trade_id"])
    report = assert_one_exit(stack, ours["trade_id"], exit_action, 10, case.reason)
    assert row["state"] == "CLOSED"
    assert row["exit_reason"] == case.reason
    assert row["exit_order_id"] == report.order_id
    assert same_money(row["exit_price"], money(report.average_price)), (row, report)
    sign = 1 if case.action == "BUY" else -1
    assert net(stack, "SBIN") == sign * (OTHER_QTY + MANUAL_QTY)
    assert trade(stack, other["trade_id"])["state"] == "ACTIVE"
    assert exit_orders(stack, other["trade_id"]) == []
    assert len(exit_orders(stack)) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(CASES))
async def test_price_exit_sends_one_order_of_our_quantity(
    tmp_path: Path, name: str, timing: dict[str, Any]
) -> None:
    case = CASES[name]
    async with running_stack(tmp_path, timing=timing) as stack:
        ours, other = await _with_bystanders(stack, case)
        assert same_money(ours["entry_price"], "800")
        assert ours["quantity"] == 10
        for price in case.path[:-1]:
            stack.price("SBIN", price)
            await eventually(
                lambda p=price: same_money(trade(stack, ours["trade_id"])["last_price"], p)
            )
            assert trade(stack, ours["trade_id"])["state"] == "ACTIVE"
        stack.price("SBIN", case.path[-1])
        await _check_exit(stack, ours, other, case)
        report = exit_orders(stack, ours["trade_id"])[0][0]
        assert same_money(money(report.average_price), case.path[-1])


@pytest.mark.asyncio
async def test_max_holding_time_exit(tmp_path: Path, timing: dict[str, Any]) -> None:
    case = Case({}, "BUY", (), "MAX_HOLDING", rules={"max_holding_seconds": 1})
    async with running_stack(tmp_path, timing=timing) as stack:
        ours, other = await _with_bystanders(stack, case)
        assert trade(stack, ours["trade_id"])["state"] == "ACTIVE"
        # real time drives it: the clock loop (0.2 s here) fires the exit once 1 s has passed
        await closed(stack, ours["trade_id"], within=None if timing else 3.0)
        await _check_exit(stack, ours, other, case)


@pytest.mark.asyncio
async def test_portfolio_stop_exits_every_trade_of_the_strategy_once(
    tmp_path: Path, timing: dict[str, Any]
) -> None:
    settings = {
        "enable_portfolio_sl": True,
        "portfolio_sl_type": "AMOUNT",
        "portfolio_sl_value": "50",
    }
    case = Case(settings, "BUY", (), "PORTFOLIO_STOP")
    async with running_stack(tmp_path, timing=timing) as stack:
        ours, other = await _with_bystanders(stack, case)
        second = await guard(stack, "main", "INFY", "SELL", 4)
        manual(stack, "INFY", "SELL", 3)
        stack.price("SBIN", "797")  # -30 on ours: not yet
        await eventually(lambda: same_money(trade(stack, ours["trade_id"])["last_price"], "797"))
        assert stack.service.get_strategy(ACCOUNT, "main")["state"] == "ACTIVE"
        stack.price("SBIN", "794")  # -60 <= -50: the whole strategy exits
        await _check_exit_portfolio(stack, ours, second, other)


async def _check_exit_portfolio(
    stack: Stack, ours: dict[str, Any], second: dict[str, Any], other: dict[str, Any]
) -> None:
    first_row = await closed(stack, ours["trade_id"])
    second_row = await closed(stack, second["trade_id"])
    one = assert_one_exit(stack, ours["trade_id"], "SELL", 10, "PORTFOLIO_STOP")
    two = assert_one_exit(stack, second["trade_id"], "BUY", 4, "PORTFOLIO_STOP")
    assert same_money(first_row["exit_price"], money(one.average_price))
    assert same_money(second_row["exit_price"], money(two.average_price))
    assert (first_row["state"], second_row["state"]) == ("CLOSED", "CLOSED")
    assert net(stack, "SBIN") == OTHER_QTY + MANUAL_QTY
    assert net(stack, "INFY") == -3
    assert trade(stack, other["trade_id"])["state"] == "ACTIVE"
    assert len(exit_orders(stack)) == 2


Step = Callable[[Stack], Awaitable[None]]


@pytest.mark.asyncio
async def test_entry_price_and_quantity_come_from_the_fill(
    tmp_path: Path, timing: dict[str, Any]
) -> None:
    async with running_stack(tmp_path, timing=timing) as stack:
        await strategy(stack, "main", **points("sl", "5"))
        stack.price("TCS", "4012.35")
        view = await guard(stack, "main", "TCS", "SELL", 13)
        assert (view["side"], view["quantity"]) == ("SHORT", 13)
        assert same_money(view["entry_price"], "4012.35")
        assert same_money(view["stop_loss"], "4017.35")
        assert view["entry_order_id"] is not None
        await state(stack, view["trade_id"], "ACTIVE")
        assert ("TCS", "NSE") in stack.feed.subscribed()


# -- the smart-order option (placesmartorder), over real sockets ---------------------------

SMART = {"exit_order_mode": "SMARTORDER"}


def smart_calls(stack: Stack, before: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Every placesmartorder body that reached the simulator; `before` runs just before the
    simulator handles the first one (something happening between our read and OpenAlgo's)."""
    api = stack.sim.api
    endpoint, handler = api.endpoints["placesmartorder"]
    bodies: list[dict[str, Any]] = []

    async def recorded(data: dict[str, Any]) -> Any:
        bodies.append(dict(data))
        if before is not None and len(bodies) == 1:
            before()
        return await handler(data)

    api.endpoints["placesmartorder"] = (endpoint, recorded)
    return bodies


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["stop_loss_long", "stop_loss_short", "target_long"])
async def test_smart_exit_leaves_other_strategy_and_manual_quantity_untouched(
    tmp_path: Path, name: str, timing: dict[str, Any]
) -> None:
    base = CASES[name]
    case = Case(base.settings | SMART, base.action, base.path, base.reason)
    async with running_stack(tmp_path, timing=timing) as stack:
        ours, other = await _with_bystanders(stack, case)
        bodies = smart_calls(stack)
        stack.price("SBIN", case.path[-1])
        await _check_exit(stack, ours, other, case)
        sign = 1 if case.action == "BUY" else -1
        [body] = bodies
        # quantity 0 (OpenAlgo's 0/0 case must stay a no-op); target = the others' net
        assert float(body["quantity"]) == 0
        assert float(body["position_size"]) == sign * (OTHER_QTY + MANUAL_QTY)


@pytest.mark.asyncio
async def test_smart_exit_sends_nothing_when_our_quantity_is_already_gone(
    tmp_path: Path, timing: dict[str, Any]
) -> None:
    async with running_stack(tmp_path, timing=timing) as stack:
        await strategy(stack, "main", **points("sl", "5"), **SMART)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        manual(stack, "SBIN", "SELL", 10)  # closed by hand: position 0, and 0 is the target
        bodies = smart_calls(stack)
        stack.price("SBIN", "794")
        row = await closed(stack, ours["trade_id"])
        assert row["state"] == "CLOSED_EXTERNALLY"
        assert bodies == []  # no placesmartorder at all: OpenAlgo's 0/0 case is never reached
        assert exit_orders(stack) == []
        assert net(stack, "SBIN") == 0


@pytest.mark.asyncio
async def test_smart_exit_when_the_position_goes_between_our_read_and_openalgos(
    tmp_path: Path, timing: dict[str, Any]
) -> None:
    async with running_stack(tmp_path, timing=timing) as stack:
        await strategy(stack, "main", **points("sl", "5"), **SMART)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        # the trader sells by hand just before OpenAlgo reads the position: 0/0 at OpenAlgo
        bodies = smart_calls(stack, before=lambda: manual(stack, "SBIN", "SELL", 10) and None)
        stack.price("SBIN", "794")
        row = await closed(stack, ours["trade_id"])
        [body] = bodies
        assert (float(body["quantity"]), float(body["position_size"])) == (0, 0)
        assert row["state"] == "CLOSED_EXTERNALLY"  # "already matched": read again, ours gone
        assert exit_orders(stack) == []  # no fresh order of the request's action
        assert net(stack, "SBIN") == 0


@pytest.mark.asyncio
async def test_smart_exit_beside_a_working_placeorder_exit_never_crosses_zero(
    tmp_path: Path, timing: dict[str, Any]
) -> None:
    async with running_stack(tmp_path, timing=timing) as stack:
        await strategy(stack, "other", **points("sl", "5"))  # placeorder exits
        await strategy(stack, "main", **points("sl", "10"), **SMART)
        other = await guard(stack, "other", "SBIN", "BUY", OTHER_QTY)
        manual(stack, "SBIN", "BUY", MANUAL_QTY)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        bodies = smart_calls(stack)
        stack.sim.broker.set_fill_late(True)  # the other exit is accepted, fills later
        stack.price("SBIN", "794")
        await eventually(lambda: len(exit_orders(stack, other["trade_id"])) == 1)
        await state(stack, other["trade_id"], "EXITING")
        stack.sim.broker.set_fill_late(False)
        stack.price("SBIN", "789")  # our stop, while the other exit is still working
        row = await closed(stack, ours["trade_id"])
        assert row["state"] == "CLOSED"
        assert_one_exit(stack, ours["trade_id"], "SELL", 10, "STOP_LOSS")
        # OpenAlgo computes from the LIVE net: no smart target can be right while another
        # exit is in flight, so this one went out as a capped placeorder
        assert bodies == []
        assert net(stack, "SBIN") == OTHER_QTY + MANUAL_QTY
        stack.sim.broker.release_late_fills()
        await closed(stack, other["trade_id"])
        assert net(stack, "SBIN") == MANUAL_QTY  # the manual 5 untouched, never crossed zero
