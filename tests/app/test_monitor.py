"""Tests: the monitor's subscriptions, batched flushes, shutdown and reconnect reconciliation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.app.harness import EX, Harness, World
from tests.helpers import eventually, within
from tradeguard.app.records import TradeProgress, TradeRecord
from tradeguard.core.model import Side
from tradeguard.core.money import to_units
from tradeguard.core.rules import LevelKind, Offset, TradeRules, TrailingRule


@pytest.mark.asyncio
async def test_symbols_are_subscribed_once_and_released_with_the_last_trade(app: Harness) -> None:
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    await app.enter("b", "RELIANCE", Side.LONG, 5)
    await eventually(lambda: app.feed.subscribed == {("RELIANCE", EX): 1})
    assert [c for c in app.feed.calls if c[0] == "subscribe"] == [("subscribe", [("RELIANCE", EX)])]
    await app.executor.execute(app.engine.request_exit("a", app.clock.now()))
    assert app.feed.subscribed == {("RELIANCE", EX): 1}
    await app.executor.execute(app.engine.request_exit("b", app.clock.now()))
    await eventually(lambda: app.feed.subscribed == {})


@pytest.mark.asyncio
async def test_fast_fields_are_flushed_in_one_batch_within_a_second(app: Harness) -> None:
    trail = TradeRules(trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("2"))))
    await app.enter("a", "RELIANCE", Side.LONG, 5, trail)
    await app.enter("b", "TCS", Side.LONG, 5, trail)
    app.world.timeline.events.clear()
    app.tick("RELIANCE", "104")
    app.tick("TCS", "210")
    assert app.world.timeline.events == []  # nothing written on the tick path
    app.clock.advance(1)
    await eventually(lambda: app.monitor.flushes >= 1)
    written = [r for k, r in app.world.timeline.events if isinstance(r, TradeProgress)]
    assert {(r.trade_id, r.best_price) for r in written} == {
        ("a", to_units("104")),
        ("b", to_units("210")),
    }
    assert not [r for k, r in app.world.timeline.events if isinstance(r, TradeRecord)]
    saved = await app.store.trade("a")
    assert saved is not None
    assert (saved.best_price, saved.trailing_level, saved.last_price, saved.state) == (
        to_units("104"),
        to_units("102"),
        to_units("104"),
        "ACTIVE",
    )


@pytest.mark.asyncio
async def test_flush_writes_a_full_snapshot_when_more_than_the_fast_fields_moved(
    app: Harness,
) -> None:
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    await app.enter("b", "TCS", Side.LONG, 5)
    app.world.timeline.events.clear()
    edited = TradeRules(trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("3"))))
    app.engine.update_rules("a", edited, app.clock.now())  # not written through on purpose
    app.tick("RELIANCE", "104")
    app.tick("TCS", "210")
    assert await app.monitor.flush() == 2
    kinds = {r.trade_id: type(r) for k, r in app.world.timeline.events}
    assert kinds == {"a": TradeRecord, "b": TradeProgress}
    saved = await app.store.trade("a")
    assert saved is not None
    assert saved.rules["trailing"]["value"] == "3"
    assert saved.trailing_level == to_units("101")


@pytest.mark.asyncio
async def test_stop_flushes_everything_dirty(app: Harness) -> None:
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    app.tick("RELIANCE", "101.5")
    await app.monitor.stop()
    saved = await app.store.trade("a")
    assert saved is not None
    assert saved.last_price == to_units("101.5")
    assert app.feed.stopped


@pytest.mark.asyncio
async def test_feed_reconnect_reconciles_orders_that_filled_meanwhile(app: Harness) -> None:
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    app.world.paper.set_fill_late(True)
    app.world.paper.remove_order_listener(app.monitor.on_order_update)  # the feed is down
    app.executor.submit([app.engine.request_exit("a", app.clock.now())])
    await app.settle()  # the resolver gives up waiting after resolve_timeout
    assert (await app.store.trade("a")).state == "EXITING"  # type: ignore[union-attr]
    app.feed.connected_flag = False
    app.monitor.on_clock()
    app.world.paper.set_fill_late(False)
    app.world.paper.release_late_fills()
    app.feed.connected_flag = True
    app.monitor.on_clock()  # back: reconcile

    async def closed() -> bool:
        saved = await app.store.trade("a")
        return saved is not None and saved.state == "CLOSED"

    await eventually(closed, timeout=10)
    assert len(app.exits()) == 1


@pytest.mark.asyncio
async def test_large_flushes_are_chunked_so_an_intent_never_waits_behind_all_of_them(
    app: Harness,
) -> None:
    for n in range(5):
        await app.enter(f"t{n}", ("RELIANCE", "TCS")[n % 2], Side.LONG, 5)
    await app.monitor.flush()
    app.monitor.flush_chunk = 2
    batches: list[int] = []
    commit = app.store.commit

    async def counting(records):  # type: ignore[no-untyped-def]
        batches.append(len(records))
        return await commit(records)

    app.monitor.store.commit = counting  # type: ignore[method-assign]
    app.tick("RELIANCE", "104")
    app.tick("TCS", "210")
    written = await app.monitor.flush()
    assert written >= 5  # five trades (and their strategy) were dirty
    assert max(batches) <= 2
    assert sum(batches) == written


@pytest.mark.asyncio
async def test_a_flush_never_writes_a_snapshot_older_than_an_exit_made_meanwhile(
    app: Harness,
) -> None:
    """Chunks are built just before they are queued: trade b exits (intent, order, fill,
    CLOSED, all written through) while the flush waits for its first chunk; the second chunk
    must not put b's earlier ACTIVE snapshot back on top."""
    trail = TradeRules(trailing=TrailingRule(Offset(LevelKind.POINTS, Decimal("2"))))
    await app.enter("a", "RELIANCE", Side.LONG, 5, trail)
    await app.enter("b", "TCS", Side.LONG, 5, trail)
    app.tick("RELIANCE", "104")
    app.tick("TCS", "210")
    app.monitor.flush_chunk = 1
    inner, gate, held = app.monitor.store, asyncio.Event(), asyncio.Event()

    class HeldFirstChunk:  # chunk 1 (trade a) lands only once b's exit is over
        def __getattr__(self, name: str) -> object:
            return getattr(inner, name)

        async def commit(self, records: list[object]) -> bool:
            if any(getattr(r, "trade_id", None) == "a" for r in records):
                held.set()
                await gate.wait()
            return await inner.commit(records)  # type: ignore[arg-type]

    app.monitor.store = HeldFirstChunk()  # type: ignore[assignment]
    flush = asyncio.create_task(app.monitor.flush())
    await within(held.wait(), "chunk 1 held")  # the flush is waiting on chunk 1
    await app.executor.execute(app.engine.request_exit("b", app.clock.now()))
    gate.set()
    await within(flush, "the flush")
    saved = await app.store.trade("b")
    assert saved is not None
    assert saved.state == "CLOSED"
    written_a = await app.store.trade("a")
    assert written_a is not None
    assert written_a.best_price == to_units("104")


@pytest.mark.asyncio
async def test_a_reconnect_between_two_clock_steps_is_still_reconciled(app: Harness) -> None:
    """The feed dropped and came back between two clock steps (`connected` never looked
    false): its reconnect counter moved, so the clock step reconciles; the feed's callback,
    arriving after, does not reconcile that reconnect a second time."""
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    app.world.paper.set_fill_late(True)
    app.world.paper.remove_order_listener(app.monitor.on_order_update)  # updates are lost
    app.executor.submit([app.engine.request_exit("a", app.clock.now())])
    await app.settle()  # the resolver gives up waiting after resolve_timeout
    app.world.paper.set_fill_late(False)
    assert app.world.paper.release_late_fills()
    app.monitor.on_clock()
    assert app.monitor.reconciles == 0  # no reconnect yet: nothing to reconcile
    app.feed.reconnects = 1
    app.monitor.on_clock()

    async def closed() -> bool:
        saved = await app.store.trade("a")
        return saved is not None and saved.state == "CLOSED"

    await eventually(closed, timeout=10)
    await eventually(lambda: app.monitor.reconciles == 1)
    app.monitor.feed_reconnected()  # the callback of the same reconnect
    assert not app.monitor._side_tasks
    assert len(app.exits()) == 1


@pytest.mark.asyncio
async def test_the_feed_callback_reconciles_at_once(app: Harness) -> None:
    """The feed's on_reconnect callback (made after it counted the reconnect) reconciles at
    once, with no clock step."""
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    app.world.paper.set_fill_late(True)
    app.world.paper.remove_order_listener(app.monitor.on_order_update)
    app.executor.submit([app.engine.request_exit("a", app.clock.now())])
    await app.settle()
    app.world.paper.set_fill_late(False)
    app.world.paper.release_late_fills()
    app.feed.connected_flag = False  # dropped, and back: the feed counts, then calls back
    app.feed.connected_flag = True
    app.monitor.feed_reconnected()

    async def closed() -> bool:
        saved = await app.store.trade("a")
        return saved is not None and saved.state == "CLOSED"

    await eventually(closed, timeout=10)
    # the close is committed inside the reconciliation, which counts itself when it returns
    await eventually(lambda: app.monitor.reconciles >= 1, timeout=10)
    assert app.monitor.reconciles == 1
    app.monitor.on_clock()  # connected all along: no second reconcile
    assert not app.monitor._side_tasks


@pytest.mark.asyncio
async def test_positions_are_reconciled_every_interval(world: World) -> None:
    """A position closed by hand at the broker: CLOSED_EXTERNALLY at the next periodic
    reconcile, with no feed reconnect and no exit order."""
    app = await Harness.open(world)
    app.monitor.reconcile_interval = 30.0
    await app.start()
    await app.add_strategy("s1")
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    await app.enter("b", "TCS", Side.LONG, 5)
    world.external("RELIANCE", "SELL", 5)
    app.clock.advance(29)
    # flush, clock and the exit watch ran; reconcile waits
    await eventually(lambda: app.clock.sleepers == 4)
    assert app.monitor.reconciles == 0
    app.clock.advance(1)
    await eventually(lambda: app.monitor.reconciles == 1)
    saved = await app.store.trade("a")
    assert saved is not None
    assert saved.state == "CLOSED_EXTERNALLY"
    assert [t.trade_id for t in app.engine.trades()] == ["b"]
    assert app.exits() == []
    assert app.feed.subscribed == {("TCS", EX): 1}
    await app.stop()


@pytest.mark.asyncio
async def test_a_periodic_reconcile_waits_while_exits_run(world: World) -> None:
    """Exits come first: a round due while an exit is in flight waits for it (at most one
    more interval), and then does not touch the trade the exit just closed."""
    app = await Harness.open(world)
    app.monitor.reconcile_interval = 10.0
    await app.start()
    await app.add_strategy("s1")
    await app.enter("a", "RELIANCE", Side.LONG, 5)
    app.broker.script.append(("hang", None))  # the exit's placement hangs
    app.executor.submit([app.engine.request_exit("a", app.clock.now())])
    await eventually(lambda: app.broker.inflight == 1)
    app.clock.advance(10)  # the round is due, the exit is running
    app.clock.advance(1)
    await eventually(lambda: app.clock.sleepers >= 3)  # flush, clock and reconcile wait again
    assert app.monitor.reconciles == 0
    app.broker.hang.set()  # the order goes out and fills
    await app.settle()
    saved = await app.store.trade("a")
    assert saved is not None
    assert saved.state == "CLOSED"
    app.clock.advance(1)
    await eventually(lambda: app.monitor.reconciles == 1)
    assert (await app.store.trade("a")).state == "CLOSED"  # type: ignore[union-attr]
    assert "error" not in app.alerts.levels()
    await app.stop()
