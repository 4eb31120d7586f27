"""End to end: the simulator's WebSocket server sees each symbol subscribed once (LTP mode)
however many trades hold it, and unsubscribed when the last trade on it closes, not before;
a symbol still held stays subscribed and keeps ticking."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.world import ACCOUNT, ACTOR, closed, guard, strategy
from tests.helpers import eventually
from tests.stack import running_stack

LTP = 1


@pytest.mark.asyncio
async def test_the_last_trade_closing_unsubscribes_its_symbol_at_the_simulator(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack:
        ws = stack.sim.ws

        def subscribed() -> set[tuple[str, str, int]]:
            clients = ws.subscriptions()
            assert len(clients) == 1  # the service's one feed connection
            return clients[0]

        await strategy(stack, "a")
        await strategy(stack, "b")
        first = await guard(stack, "a", "SBIN", "BUY", 5)
        second = await guard(stack, "b", "SBIN", "SELL", 3)
        third = await guard(stack, "a", "INFY", "BUY", 2)
        await eventually(
            lambda: subscribed() == {("SBIN", "NSE", LTP), ("INFY", "NSE", LTP)},
            message="both symbols subscribed once, in LTP mode",
        )
        await stack.service.exit_trade(ACCOUNT, first["trade_id"], actor=ACTOR)
        await closed(stack, first["trade_id"])
        assert subscribed() == {("SBIN", "NSE", LTP), ("INFY", "NSE", LTP)}  # still held
        await stack.service.exit_trade(ACCOUNT, second["trade_id"], actor=ACTOR)
        await closed(stack, second["trade_id"])
        await eventually(
            lambda: subscribed() == {("INFY", "NSE", LTP)}, message="SBIN unsubscribed"
        )
        stack.price("INFY", "1501")  # the symbol still held keeps ticking
        await eventually(
            lambda: any(
                t["trade_id"] == third["trade_id"] and t["last_price"] == "1501.00"
                for t in stack.service.active_trades(ACCOUNT)
            ),
            message="INFY still ticks",
        )
