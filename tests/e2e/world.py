"""Tests: end-to-end helpers over `tests.stack`: strategies, guarded entries, manual and other
strategies' quantity on the same symbol, and what the simulator's books say afterwards.

Everything here reads the simulator's paper broker (the "exchange") directly: the assertions
are about what really reached OpenAlgo's REST API, not what tradeguard believes it sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.helpers import eventually, within
from tests.stack import Stack
from tradeguard.app.events import Event
from tradeguard.app.service import CreateTrade
from tradeguard.app.tasks import cancel_and_wait
from tradeguard.core.broker import OrderReport, OrderRequest, OrderStatus
from tradeguard.core.money import from_units

ACCOUNT = "acct"
ACTOR = "e2e"
EXIT_TAG = "tg:"  # every exit's `strategy` tag starts with it (app.outcomes.exit_tag)


def money(units: int | None) -> str | None:
    return None if units is None else format(from_units(units).normalize(), "f")


def same_money(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and Decimal(a) == Decimal(b)


async def strategy(stack: Stack, name: str, **settings: Any) -> dict[str, Any]:
    """Configure a strategy (FIXED_QUANTITY sizing is irrelevant: trades come from orders)."""
    return await stack.service.configure_strategy(ACCOUNT, name, settings, actor=ACTOR)


async def guard(
    stack: Stack, name: str, symbol: str, action: str, quantity: int, **rules: Any
) -> dict[str, Any]:
    """Fill an entry at the simulator, then createtrade from its order id."""
    order_id = await stack.fill_entry(symbol, action, quantity, strategy=name)
    view = await stack.service.create_trade(
        ACCOUNT, CreateTrade(strategy=name, order_id=order_id, rules=rules), actor=ACTOR
    )
    await stack.wait_subscribed(symbol)
    return view


def manual(stack: Stack, symbol: str, action: str, quantity: int) -> str:
    """An order placed by hand at the broker: nothing guards it."""
    return stack.sim.broker.submit(OrderRequest(symbol, "NSE", action, quantity, "MIS", "manual"))


def net(stack: Stack, symbol: str) -> int:
    pos = stack.sim.broker.position(symbol, "NSE", "MIS")
    return 0 if pos is None else pos.quantity


def orders(stack: Stack) -> list[OrderReport]:
    return [o.report() for o in stack.sim.broker.book.orders.values()]


def exit_orders(stack: Stack, trade_id: str | None = None) -> list[tuple[OrderReport, str]]:
    """(report, strategy tag) of every order tradeguard sent as an exit (optionally one trade's)."""
    found = []
    for order in stack.sim.broker.book.orders.values():
        tag = order.request.strategy
        if tag.startswith(EXIT_TAG) and (trade_id is None or tag.endswith(f":{trade_id}")):
            found.append((order.report(), tag))
    return found


def active_ids(stack: Stack) -> set[str]:
    return {t["trade_id"] for t in stack.service.active_trades(ACCOUNT)}


async def closed(stack: Stack, trade_id: str, within: float | None = None) -> dict[str, Any]:
    """Wait until the trade is out of the engine and stored as closed (within the stack's
    patience unless told); return its history row."""

    async def check() -> dict[str, Any] | None:
        if trade_id in active_ids(stack):
            return None
        rows = await stack.service.trade_history(ACCOUNT, 1000)
        row = next((r for r in rows if r["trade_id"] == trade_id), None)
        if row is None or row["state"] not in ("CLOSED", "CLOSED_EXTERNALLY"):
            return None
        return row

    return await eventually(check, timeout=within or stack.patience, message=f"{trade_id} closed")


def trade(stack: Stack, trade_id: str) -> dict[str, Any]:
    return next(t for t in stack.service.active_trades(ACCOUNT) if t["trade_id"] == trade_id)


async def state(
    stack: Stack, trade_id: str, wanted: str, within: float | None = None
) -> dict[str, Any]:
    """Wait until the (still open) trade is in state `wanted`; return its view."""
    await eventually(
        lambda: trade_id in active_ids(stack) and trade(stack, trade_id)["state"] == wanted,
        timeout=within or stack.patience,
        message=f"{trade_id} {wanted}",
    )
    return trade(stack, trade_id)


def assert_one_exit(
    stack: Stack, trade_id: str, action: str, quantity: int, reason: str | None = None
) -> OrderReport:
    """Exactly one exit order for the trade, of the right side and quantity, complete."""
    sent = exit_orders(stack, trade_id)
    assert len(sent) == 1, f"expected one exit order for {trade_id}, got {sent}"
    report, tag = sent[0]
    assert (report.action, report.quantity, report.status) == (
        action,
        quantity,
        OrderStatus.COMPLETE,
    ), report
    if reason is not None:
        assert f":{reason}:" in tag, tag
    return report


@dataclass
class Recorder:
    """Every event published on the service's bus, in order."""

    events: list[Event] = field(default_factory=list)

    def of(self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda d: True) -> list:
        return [e.data for e in self.events if e.kind == kind and where(e.data)]


@contextlib.asynccontextmanager
async def recording(stack: Stack) -> AsyncIterator[Recorder]:
    """Record the bus while the block runs (a subscriber task drains it)."""
    import asyncio

    recorder = Recorder()
    ready = asyncio.Event()

    async def drain() -> None:
        async with stack.service.bus.subscribe() as events:
            ready.set()
            async for event in events:
                recorder.events.append(event)

    task = asyncio.create_task(drain())
    await within(ready.wait(), "the recorder subscribed")
    try:
        yield recorder
    finally:
        await cancel_and_wait(task)
