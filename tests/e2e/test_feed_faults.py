"""End to end: WebSocket feed faults. A dropped feed is covered by REST quote polling (a stop
still fires) until it returns with its subscriptions; a stale feed is polled and shown on
/health; duplicate ticks and order updates change nothing; after a re-login (the proxy dropped
its broker adapter, the open socket is silent) the feed reconnects by itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.world import (
    assert_one_exit,
    closed,
    exit_orders,
    guard,
    net,
    same_money,
    strategy,
    trade,
)
from tests.helpers import eventually
from tests.stack import running_stack
from tradeguard.adapters.openalgo.polling import PollingConfig

SL = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}


@pytest.mark.asyncio
async def test_feed_drop_polling_covers_and_subscriptions_return(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        stays = await guard(stack, "main", "INFY", "BUY", 3)
        ws, feed = stack.sim.ws, stack.feed
        assert feed.fallback is not None
        ws.refuse_connections(True)
        assert ws.drop_all() == 1
        await eventually(lambda: not feed.connected, message="feed down")
        attempts = feed.attempts

        # blind on the stream: prices still reach the engine through REST quotes
        stack.price("SBIN", "798")
        await eventually(lambda: same_money(trade(stack, ours["trade_id"])["last_price"], "798"))
        assert feed.fallback.polled_ticks > 0
        stack.price("SBIN", "794")  # the stop fires while the feed is down
        row = await closed(stack, ours["trade_id"])
        report = assert_one_exit(stack, ours["trade_id"], "SELL", 10, "STOP_LOSS")
        assert same_money(row["exit_price"], "794")
        assert report.average_price == 7_940_000
        assert net(stack, "SBIN") == 0
        await eventually(lambda: feed.attempts > attempts + 1, message="reconnect attempts")
        assert not feed.connected  # it keeps trying while refused

        # the feed returns: re-authenticated, INFY (still guarded) and the order stream back
        ws.refuse_connections(False)
        await eventually(lambda: feed.connected, message="feed back")
        await eventually(lambda: ws.subscriptions() == [{("INFY", "NSE", 1)}])
        assert ws.order_subscribers() == 1
        assert feed.reconnects == 1
        before = feed.last_stream_tick_at("INFY", "NSE")
        stack.price("INFY", "1510")
        await eventually(lambda: feed.last_stream_tick_at("INFY", "NSE") != before)
        assert same_money(trade(stack, stays["trade_id"])["last_price"], "1510")
        assert trade(stack, stays["trade_id"])["state"] == "ACTIVE"
        assert len(exit_orders(stack)) == 1


@pytest.mark.asyncio
async def test_stale_feed_is_polled_and_shown_on_health(tmp_path: Path) -> None:
    polling = PollingConfig(interval_s=0.05, stale_after_s=0.3)
    async with running_stack(tmp_path, polling=polling) as stack:
        stack.service.stale_after = 0.3
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        stack.price("SBIN", "801")
        await eventually(lambda: same_money(trade(stack, ours["trade_id"])["last_price"], "801"))
        assert stack.service.health()["feed"]["stale_symbols"] == []
        fallback = stack.feed.fallback
        assert fallback is not None
        polled = fallback.polled_ticks

        stack.sim.ws.set_stale(True)  # connected, but no ticks
        await eventually(lambda: fallback.polled_ticks > polled, message="stale symbol polled")
        assert stack.feed.connected
        stack.price("SBIN", "799")
        await eventually(lambda: same_money(trade(stack, ours["trade_id"])["last_price"], "799"))
        health = await eventually(
            lambda: (h := stack.service.health())["feed"]["stale_symbols"] and h,
            message="health shows the stale symbol",
        )
        assert health["feed"]["stale_symbols"] == ["NSE:SBIN"]
        assert "stale_symbols" in health["degraded"]
        stack.price("SBIN", "794")
        await closed(stack, ours["trade_id"])
        assert_one_exit(stack, ours["trade_id"], "SELL", 10, "STOP_LOSS")

        stack.sim.ws.set_stale(False)
        assert stack.service.health()["feed"]["stale_symbols"] == []  # nothing guarded now


@pytest.mark.asyncio
async def test_duplicate_ticks_and_order_updates_have_no_effect(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        stack.sim.ws.set_duplicate_ticks(True)
        stack.sim.ws.set_duplicate_order_updates(True)
        await strategy(stack, "main", **SL)
        other = await guard(stack, "main", "SBIN", "BUY", 4)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        stack.price("SBIN", "797")
        await eventually(lambda: same_money(trade(stack, ours["trade_id"])["last_price"], "797"))
        ticks = stack.service.metrics()["ticks"]
        fallback = stack.feed.fallback
        assert fallback is not None
        polled = fallback.polled_ticks
        delivered = stack.feed.ticks
        stack.price("SBIN", "797")  # the same price again, at a new time: a new tick
        await eventually(lambda: stack.service.metrics()["ticks"] == ticks + 1)
        stack.price("SBIN", "794")
        await closed(stack, ours["trade_id"])
        await closed(stack, other["trade_id"])
        assert_one_exit(stack, ours["trade_id"], "SELL", 10, "STOP_LOSS")
        assert_one_exit(stack, other["trade_id"], "SELL", 4, "STOP_LOSS")
        assert net(stack, "SBIN") == 0
        # the three ticks doubled, and the order updates doubled too when the broker pushes
        # them (a broker without order push, as the realistic timing, sends none)
        pushed = stack.sim.timing.config.pushes
        assert stack.feed.duplicates_dropped >= (4 if pushed else 3)
        metrics = stack.service.metrics()
        assert metrics["exits_by_reason"] == {"STOP_LOSS": 2}
        # every tick the feed delivered counted once, none of the dropped duplicates: one 797
        # again and one 794 (only these while the exits are quick; a slow exit leaves the
        # symbol quiet long enough for quotes to be polled, and those count too)
        delivered = stack.feed.ticks - delivered
        assert metrics["ticks"] == ticks + delivered
        if fallback.polled_ticks == polled:
            assert delivered == 2
        history = await stack.service.trade_history("acct")
        assert sorted(r["state"] for r in history) == ["CLOSED", "CLOSED"]
        ignored = [
            a for a in await stack.store.audit_entries() if a.action == "exit_duplicate_ignored"
        ]
        assert ignored == []


@pytest.mark.asyncio
async def test_after_a_relogin_the_feed_reconnects_by_itself_and_a_stop_fires_from_a_tick(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack:
        await strategy(stack, "main", **SL)
        ours = await guard(stack, "main", "SBIN", "BUY", 10)
        feed = stack.feed
        stack.price("SBIN", "801")
        await eventually(lambda: feed.last_stream_price("SBIN", "NSE") == 8_010_000)

        stack.sim.api.faults.update({"session_down": True})  # the daily logout...
        stack.sim.api.faults.update({"session_down": False})  # ... and login: socket silent
        stack.price("SBIN", "799")
        await eventually(lambda: feed.reconnects == 1, timeout=10.0, message="reconnected")
        assert feed.last_drop
        await eventually(lambda: stack.sim.ws.subscriptions() == [{("SBIN", "NSE", 1)}])
        assert stack.sim.ws.order_subscribers() == 1
        assert feed.fallback is not None
        polled = feed.fallback.polled_ticks
        stack.price("SBIN", "794")  # the stop: from a WebSocket tick on the new connection
        row = await closed(stack, ours["trade_id"])
        assert same_money(row["exit_price"], "794")
        assert_one_exit(stack, ours["trade_id"], "SELL", 10, "STOP_LOSS")
        assert feed.last_stream_price("SBIN", "NSE") == 7_940_000
        assert feed.fallback.polled_ticks == polled  # no REST quote fed a price meanwhile
        assert net(stack, "SBIN") == 0
        assert "feed" not in stack.service.health()["degraded"]
