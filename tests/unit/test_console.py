"""Tests: the terminal's lines (interfaces.console.render) and the bus kinds only the terminal
asks for (`exit_sent`, `closed`: not sent to the dashboard, not in the recent events)."""

from __future__ import annotations

import asyncio
import io

import pytest

from tests.helpers import eventually
from tradeguard.app.events import Event, EventBus
from tradeguard.interfaces.console import KINDS, print_events, render

SENT = {
    "trade_id": "T1", "order_id": "26000000000003", "symbol": "INFY", "exchange": "NSE",
    "product": "MIS", "side": "LONG", "action": "SELL", "quantity": 20, "reason": "STOP_LOSS",
    "trigger": "1493.15", "price": "1492.80", "attempt": 1,
}  # fmt: skip
CLOSED = {
    "trade_id": "T1", "strategy_id": "default/demo", "symbol": "INFY", "exchange": "NSE",
    "side": "LONG", "quantity": 20, "state": "CLOSED", "external": False,
    "reason": "STOP_LOSS", "exit_price": "1492.80", "realized_pnl": "-81.00",
}  # fmt: skip


def test_an_exit_line_names_the_order_sent() -> None:
    line = render(Event("exit_sent", SENT))
    assert line == (
        "EXIT    STOP_LOSS          LONG     20 NSE:INFY at ~1492.80 trigger 1493.15: "
        "SELL order 26000000000003 sent (trade T1)"
    )


def test_a_manual_exit_has_no_trigger() -> None:
    line = render(Event("exit_sent", {**SENT, "reason": "MANUAL", "trigger": None}))
    assert line is not None
    assert "trigger" not in line
    assert line.startswith("EXIT    MANUAL ")


def test_closed_by_a_fill_and_closed_externally_read_differently() -> None:
    filled = render(Event("closed", CLOSED))
    assert filled == (
        "CLOSED  STOP_LOSS          LONG     20 NSE:INFY filled at 1492.80, P&L -81.00 (trade T1)"
    )
    gone = render(Event("closed", {**CLOSED, "state": "CLOSED_EXTERNALLY", "external": True,
                                   "reason": None, "realized_pnl": "0.00"}))  # fmt: skip
    assert gone is not None
    assert gone.startswith("CLOSED EXTERNALLY")
    assert "no exit order sent" in gone
    assert "EXIT" not in gone.replace("EXTERNALLY", "")


def test_alerts_strategies_and_gaps_have_a_line_and_other_kinds_none() -> None:
    assert render(Event("alert", {"level": "warning", "message": "m"})) == "ALERT   WARNING  m"
    assert render(Event("strategy", {"strategy_id": "a/s", "state": "HALTED", "reason": "r"}))
    assert render(Event("gap", {"missed": 3})) == "(the terminal fell behind: 3 events not shown)"
    for kind in ("exit", "level", "trade", "portfolio"):
        assert render(Event(kind, {})) is None


@pytest.mark.asyncio
async def test_the_quiet_kind_reaches_only_who_asks_and_stays_out_of_recent_events() -> None:
    bus = EventBus()
    out = io.StringIO()
    async with bus.subscribe():
        assert not bus.wants("exit_sent")  # a dashboard alone: nobody builds terminal events
    async with bus.subscribe() as everything, bus.subscribe(kinds=KINDS) as terminal:
        assert bus.wants("exit_sent")
        bus.publish(Event("exit_sent", SENT, "default", 1))
        bus.publish(Event("closed", CLOSED, "default", 2))
        bus.publish(Event("alert", {"level": "info", "message": "hello"}, None, 3))
        printer = asyncio.create_task(print_events(terminal, out))
        first = await anext(everything)
        assert first.kind == "closed"  # the dashboard's subscription skipped the quiet exit_sent
        assert (await anext(everything)).kind == "alert"
        await eventually(lambda: len(out.getvalue().splitlines()) == 3, message="3 lines")
        printer.cancel()
        await asyncio.gather(printer, return_exceptions=True)
    assert [e.kind for e in bus.recent] == ["closed", "alert"]
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["EXIT", "CLOSED", "ALERT"]
