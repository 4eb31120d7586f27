"""Tests: the one start path after a crash (kill -9) or a clean stop, against the same paper
broker and the same SQLite file: every reconciliation case, and no second exit order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import TypeVar

import pytest
import pytest_asyncio
from sqlalchemy import text

from tests.app.harness import Harness, World
from tests.helpers import eventually, within
from tradeguard.adapters.db.connect import create_engine
from tradeguard.app.records import TradeRecord
from tradeguard.core.model import Side, TradeState
from tradeguard.core.money import to_units
from tradeguard.core.rules import Level, LevelKind, Offset, TradeRules, TrailingRule

T = TypeVar("T")

SL = TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal("2")))


@pytest_asyncio.fixture
async def first(world: World) -> AsyncIterator[Harness]:
    harness = await Harness.open(world)
    await harness.start()
    await harness.add_strategy("s1")
    yield harness
    if not harness.store.inner._closed:
        await harness.crash()


async def restart(world: World) -> tuple[Harness, str]:
    second = await Harness.open(world)
    result = await second.start()
    return second, result.summary


async def exit_order_written(app: Harness, trade_id: str) -> bool:
    return (await record(app, trade_id)).exit_order_id is not None


async def record(app: Harness, trade_id: str) -> TradeRecord:
    found = await app.store.trade(trade_id)
    assert found is not None
    return found


@pytest.mark.asyncio
async def test_exit_filled_while_down_is_closed_at_the_real_fill_price(
    world: World, first: Harness
) -> None:
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    world.paper.set_fill_late(True)
    first.tick("RELIANCE", "97.5")  # exit placed, stays open
    await eventually(lambda: exit_order_written(first, "t1"), timeout=10)
    [order_id] = first.broker.order_ids
    await first.crash()
    world.set_price("RELIANCE", "97.25")
    world.paper.set_fill_late(False)
    assert world.paper.release_late_fills() == [order_id]

    second, summary = await restart(world)
    closed = await record(second, "t1")
    assert (closed.state, closed.exit_price) == ("CLOSED", to_units("97.25"))
    assert closed.realized_pnl == (to_units("97.25") - to_units("100")) * 10
    assert "1 exit filled while down" in summary
    assert second.broker.placed == []
    await second.stop()


@pytest.mark.asyncio
async def test_exit_cancelled_while_down_reopens_and_fires_again(
    world: World, first: Harness
) -> None:
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    world.paper.set_fill_late(True)
    first.tick("RELIANCE", "97.5")
    await eventually(lambda: exit_order_written(first, "t1"), timeout=10)
    [order_id] = first.broker.order_ids
    await first.crash()
    world.paper.cancel(order_id)
    world.paper.set_fill_late(False)

    second, summary = await restart(world)
    assert second.engine.trade("t1").state is TradeState.ACTIVE
    assert "1 reopened" in summary
    second.tick("RELIANCE", "97.4")  # evaluated again on the next tick
    await second.settle()
    [again] = second.exits()
    assert (again.action, again.quantity) == ("SELL", 10)
    closed = await record(second, "t1")
    assert (closed.state, closed.exit_attempt) == ("CLOSED", 2)
    await second.stop()


@pytest.mark.asyncio
async def test_intent_without_order_id_adopts_the_matching_order(
    world: World, first: Harness
) -> None:
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    first.broker.script = [("hang_after", None)]  # placed, then we die before the reply
    first.tick("RELIANCE", "97.5")
    await first.settle_until(lambda: len(first.broker.order_ids) == 1)
    [order_id] = first.broker.order_ids
    assert (await record(first, "t1")).exit_order_id is None
    await first.crash()

    second, summary = await restart(world)
    closed = await record(second, "t1")
    assert (closed.state, closed.exit_order_id) == ("CLOSED", order_id)
    assert "1 exit order adopted" in summary
    assert second.broker.placed == []  # no resend
    assert len(await world.paper.order_book()) == 2  # the entry and the one exit
    await second.stop()


@pytest.mark.asyncio
async def test_intent_without_any_order_is_evaluated_again(world: World, first: Harness) -> None:
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    first.broker.script = [("hang", None)]  # we die before the order leaves
    first.tick("RELIANCE", "97.5")
    await first.settle_until(lambda: first.broker.inflight == 1)
    await first.crash()

    second, summary = await restart(world)
    assert second.engine.trade("t1").state is TradeState.ACTIVE
    assert "1 reopened" in summary
    second.tick("RELIANCE", "97.5")
    await second.settle()
    assert len(second.exits()) == 1
    assert (await record(second, "t1")).state == "CLOSED"
    await second.stop()


@pytest.mark.asyncio
async def test_position_gone_while_down_closes_externally(world: World, first: Harness) -> None:
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    await first.stop()
    world.external("RELIANCE", "SELL", 10)

    second, summary = await restart(world)
    assert (await record(second, "t1")).state == "CLOSED_EXTERNALLY"
    assert "1 closed externally" in summary
    assert second.feed.subscribed == {}
    await second.stop()


@pytest.mark.asyncio
async def test_smaller_position_adjusts_the_quantity(world: World, first: Harness) -> None:
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    await first.stop()
    world.external("RELIANCE", "SELL", 4)

    second, summary = await restart(world)
    assert second.engine.trade("t1").quantity == 6
    assert (await record(second, "t1")).quantity == 6
    assert "1 quantity adjusted" in summary
    second.tick("RELIANCE", "97")
    await second.settle()
    [order] = second.exits()
    assert order.quantity == 6
    await second.stop()


@pytest.mark.asyncio
async def test_restart_restores_best_price_and_trailing_level(world: World, first: Harness) -> None:
    trail = TradeRules(trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("2"))))
    await first.enter("t1", "RELIANCE", Side.LONG, 10, trail)
    first.tick("RELIANCE", "108")
    first.clock.advance(1)  # the flush loop writes the new best price within a second
    await first.settle_until(lambda: first.monitor.flushes >= 1)
    flushed = await record(first, "t1")
    assert (flushed.best_price, flushed.trailing_level) == (to_units("108"), to_units("106"))
    await first.crash()

    second, _ = await restart(world)
    trade = second.engine.trade("t1")
    assert (trade.best, trade.trailing) == (to_units("108"), to_units("106"))
    second.tick("RELIANCE", "105.95")  # below the restored trail: it fires
    await second.settle()
    assert len(second.exits()) == 1
    assert (await record(second, "t1")).exit_reason == "TRAILING_STOP"
    await second.stop()


@pytest.mark.asyncio
async def test_a_daily_loss_breached_while_down_exits_every_restored_trade(
    world: World, first: Harness
) -> None:
    """Portfolio rules are evaluated once all of a strategy's trades are back, so a limit
    already breached at restart exits all of them, not only the first one restored."""
    await first.add_strategy("s2", daily_loss_limit=Decimal("50"))
    for trade_id, symbol in (("t1", "RELIANCE"), ("t2", "TCS"), ("t3", "INFY")):
        await first.enter(trade_id, symbol, Side.LONG, 10, SL, strategy="s2")
    book = first.engine.strategy("s2")
    stored = first.snapshots.strategy_record(book, first.clock.now())
    assert await first.store.commit([replace(stored, realized_pnl=-to_units("60"))])
    await first.crash()

    second, _ = await restart(world)
    await eventually(lambda: len(second.exits()) == 3, timeout=10)
    assert sorted(e.symbol for e in second.exits()) == ["INFY", "RELIANCE", "TCS"]
    assert second.engine.strategy("s2").state.value == "HALTED"
    await second.stop()


# -- reconciliation while running ------------------------------------------------------------


def held_until_released(
    read: Callable[[], Awaitable[T]],
) -> tuple[Callable[[], Awaitable[T]], asyncio.Event, asyncio.Event]:
    """A book read that answers only once `release` is set (`books_read` is set when the
    broker has answered): what a slow reply looks like to the reconciliation."""
    books_read, release = asyncio.Event(), asyncio.Event()

    async def held() -> T:
        book = await read()
        books_read.set()
        await release.wait()
        return book

    return held, books_read, release


@pytest.mark.asyncio
async def test_a_trade_opened_while_the_books_are_read_is_not_closed_externally(
    first: Harness,
) -> None:
    """The position book was read before b's entry filled: b is newer than the books, so
    their silence about it means nothing (it must not become CLOSED_EXTERNALLY)."""
    await first.enter("a", "RELIANCE", Side.LONG, 5, SL)
    read = first.broker.position_book
    held, books_read, release = held_until_released(read)
    first.broker.position_book = held  # type: ignore[method-assign]
    running = asyncio.create_task(first.recovery.reconcile_now())
    await within(books_read.wait(), "the books read")
    await first.enter("b", "TCS", Side.LONG, 5, SL)  # filled after the position book was read
    release.set()
    assert await running == []
    assert {t.trade_id: t.state for t in first.engine.trades()} == {
        "a": TradeState.ACTIVE,
        "b": TradeState.ACTIVE,
    }

    first.broker.position_book = read  # type: ignore[method-assign]
    assert await first.recovery.reconcile_now() == []  # the next round sees b's position


@pytest.mark.asyncio
async def test_an_exit_started_while_the_books_are_read_is_left_to_the_executor(
    world: World, first: Harness
) -> None:
    """a is closed by hand, then its stop fires while a reconciliation reads the books: the
    executor's own exit (fresh position read: 0) decides; the reconciliation changes nothing
    and raises no alert."""
    await first.enter("a", "RELIANCE", Side.LONG, 5, SL)
    world.external("RELIANCE", "SELL", 5)
    read = first.broker.order_book
    held, books_read, release = held_until_released(read)
    first.broker.order_book = held  # type: ignore[method-assign]
    running = asyncio.create_task(first.recovery.reconcile_now())
    await within(books_read.wait(), "the books read")
    first.tick("RELIANCE", "97")  # the stop fires: the trade is EXITING, its exit task queued
    assert first.engine.trade("a").state is TradeState.EXITING
    release.set()
    assert await running == []
    first.broker.order_book = read  # type: ignore[method-assign]
    await first.settle()
    saved = await record(first, "a")
    assert saved.state == "CLOSED_EXTERNALLY"  # by the executor's cap: nothing left to sell
    assert first.exits() == []
    assert "error" not in first.alerts.levels()
    audits = [a.action for a in await first.store.audits("a")]
    assert "closed_externally" in audits
    assert "reconcile_closed_externally" not in audits


@pytest.mark.asyncio
async def test_reconciliations_run_one_at_a_time(world: World, first: Harness) -> None:
    await first.enter("a", "RELIANCE", Side.LONG, 5, SL)
    world.external("RELIANCE", "SELL", 5)
    results = await asyncio.gather(first.recovery.reconcile_now(), first.recovery.reconcile_now())
    assert sorted(len(r) for r in results) == [0, 1]  # the second saw a closed trade
    assert (await record(first, "a")).state == "CLOSED_EXTERNALLY"
    assert "error" not in first.alerts.levels()


# -- the exit-order ledger (issue 11) ---------------------------------------------------------


@pytest.mark.asyncio
async def test_an_intent_never_adopts_another_trades_exit_order(
    world: World, first: Harness
) -> None:
    """Failure 2 of issue 11: a closes on order X; b's exit intent is committed and we die
    before b's order goes out. X matches b's intent (same key, side and quantity, placed at
    the same moment) but belongs to a: the restart must not adopt it for b (b's 10 would stay
    open at the broker, unguarded); b is evaluated again and sends its own exit."""
    await first.enter("a", "RELIANCE", Side.LONG, 10, SL)
    await first.enter(
        "b", "RELIANCE", Side.LONG, 10, TradeRules(stop_loss=Level(LevelKind.POINTS, Decimal("3")))
    )
    first.tick("RELIANCE", "97.9")  # a's stop: SELL 10, filled
    await first.settle()
    assert (await record(first, "a")).state == "CLOSED"
    [x] = first.broker.order_ids
    first.broker.script = [("hang", None)]  # b's order never leaves
    first.tick("RELIANCE", "96.9")
    await first.settle_until(lambda: first.broker.inflight == 1)
    await first.crash()

    second, summary = await restart(world)
    assert "adopted" not in summary
    assert second.engine.trade("b").state is TradeState.ACTIVE  # reopened, not closed on X
    second.tick("RELIANCE", "96.8")
    await second.settle()
    [again] = second.exits()
    assert (again.action, again.quantity) == ("SELL", 10)
    closed = await record(second, "b")
    assert closed.state == "CLOSED"
    assert closed.exit_order_id not in (None, x)
    assert world.paper.net_quantity(again) == 0
    await second.stop()


@pytest.mark.asyncio
async def test_an_ambiguous_intent_is_shown_unresolved_not_guessed(
    world: World, first: Harness
) -> None:
    """We die between placing the exit and its reply, and someone sells 10 by hand on the same
    key in the same second: two orders could be ours. Neither is adopted: the exit is
    UNRESOLVED (the trade EXIT_FAILED, fires nothing more), alerted critical."""
    await first.enter("t1", "RELIANCE", Side.LONG, 20, SL)
    first.broker.script = [("hang_after", None)]
    first.tick("RELIANCE", "97.5")
    await first.settle_until(lambda: len(first.broker.order_ids) == 1)
    await first.crash()
    world.external("RELIANCE", "SELL", 20)  # the trader's own order, indistinguishable

    second, summary = await restart(world)
    assert "1 exit unresolved" in summary
    assert "adopted" not in summary
    saved = await record(second, "t1")
    assert saved.state == "EXIT_FAILED"
    [row] = await second.store.inner.exit_orders("t1")
    assert (row.state, row.order_id) == ("UNRESOLVED", None)
    assert any(lvl == "critical" and "UNRESOLVED" in m for lvl, m, _ in second.alerts.items)
    assert second.broker.placed == []  # nothing sent again
    second.tick("RELIANCE", "90")
    await second.settle()
    assert second.broker.placed == []
    await second.stop()


@pytest.mark.asyncio
async def test_a_trade_exiting_before_the_ledger_existed_is_still_resolved(
    world: World, first: Harness
) -> None:
    """A database written before migration 0004: an EXITING trade row with its exit order id
    and no exit_orders row. Start-up takes the row's order as the trade's exit (and claims it)."""
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    world.paper.set_fill_late(True)
    first.tick("RELIANCE", "97.5")
    await eventually(lambda: exit_order_written(first, "t1"), timeout=10)
    [order_id] = first.broker.order_ids
    await first.crash()
    engine = create_engine(world.db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM exit_orders"))  # as if never written
    finally:
        engine.dispose()
    world.paper.set_fill_late(False)
    world.paper.release_late_fills()

    second, summary = await restart(world)
    closed = await record(second, "t1")
    assert (closed.state, closed.exit_order_id) == ("CLOSED", order_id)
    assert "1 exit filled while down" in summary
    assert second.broker.placed == []
    await second.stop()


@pytest.mark.asyncio
async def test_position_closed_while_down_is_recorded_at_the_brokers_last_price(
    world: World, first: Harness
) -> None:
    """No tick reached the restarted engine: the close is priced at the broker's ltp (the
    position book's row of the closed position), not at the entry with P&L 0."""
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    await first.stop()
    world.set_price("RELIANCE", "103.50")
    world.external("RELIANCE", "SELL", 10)

    second, _ = await restart(world)
    closed = await record(second, "t1")
    assert (closed.state, closed.exit_price) == ("CLOSED_EXTERNALLY", to_units("103.50"))
    assert closed.realized_pnl == (to_units("103.50") - to_units("100")) * 10
    assert closed.exit_message is not None
    assert "broker position book ltp" in closed.exit_message
    await second.stop()


@pytest.mark.asyncio
async def test_position_closed_with_no_price_anywhere_is_at_the_entry_with_a_note(
    world: World, first: Harness
) -> None:
    await first.enter("t1", "RELIANCE", Side.LONG, 10, SL)
    await first.stop()
    world.external("RELIANCE", "SELL", 10)
    world.market._quotes.clear()  # the broker knows no price of it either

    second, _ = await restart(world)
    closed = await record(second, "t1")
    assert (closed.state, closed.exit_price, closed.realized_pnl) == (
        "CLOSED_EXTERNALLY",
        to_units("100"),
        0,
    )
    assert closed.exit_message is not None
    assert "recorded at the entry" in closed.exit_message
    assert "warning" in second.alerts.levels()
    await second.stop()
