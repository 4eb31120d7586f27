"""Tests: exits queued in OpenAlgo's Action Center (semi-auto) across restarts, on the app
layer (real PaperBroker and SQLite): the queued row and its pending id survive a restart, a new
exit is still refused after it, and an order approved while tradeguard was down is adopted at
start-up and closes the trade (nothing else placed)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.app.harness import Harness, World
from tradeguard.core.broker import Queued
from tradeguard.core.exit_order import ExitOrderState
from tradeguard.core.model import Side, TradeState
from tradeguard.core.money import to_units
from tradeguard.core.rules import Level, LevelKind, TradeRules

SL = TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal("2")))


async def started(world: World) -> Harness:
    harness = await Harness.open(world)
    await harness.start()
    return harness


async def audit_actions(app: Harness, trade_id: str) -> list[str]:
    return [a.action for a in await app.store.audits(trade_id)]


@pytest.mark.asyncio
async def test_a_queued_exit_survives_restarts_blocks_a_new_exit_and_is_adopted(
    world: World,
) -> None:
    first = await started(world)
    await first.add_strategy("s1")
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    first.broker.script = [("before", Queued("queued in Action Center", pending_id="7"))]
    first.tick("RELIANCE", "97.5")
    await first.settle()
    assert first.engine.trade("t1").state is TradeState.EXIT_FAILED
    assert first.exits() == []
    assert "critical" in first.alerts.levels()
    await first.crash()

    second = await started(world)
    row = second.snapshots.ledger.latest("t1")
    assert row is not None
    assert (row.state, row.pending_id) == (ExitOrderState.QUEUED, "7")
    assert second.engine.trade("t1").state is TradeState.EXIT_FAILED
    # any new exit (a person's retry reaching the executor, a rule) is refused
    decision = second.engine.request_exit("t1", second.clock.now())
    await second.executor.execute(decision)
    assert second.engine.trade("t1").state is TradeState.EXIT_FAILED
    assert second.exits() == []
    assert "exit_refused_queued" in await audit_actions(second, "t1")
    await second.stop()

    world.set_price("RELIANCE", "97.25")
    order_id = world.external("RELIANCE", "SELL", 10)  # the trader approves it in OpenAlgo
    third = await started(world)
    closed = await third.store.trade("t1")
    assert closed is not None
    assert (closed.state, closed.exit_order_id) == ("CLOSED", order_id)
    assert closed.exit_price == to_units("97.25")
    assert third.broker.placed == []
    [stored] = await third.store.inner.exit_orders("t1")
    assert (stored.state, stored.pending_id, stored.order_id) == ("FILLED", "7", order_id)
    await third.stop()
