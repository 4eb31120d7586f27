"""OpenAlgoFeed against the sim's OpenAlgo-compatible WebSocket server, over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from tests.helpers import eventually
from tests.sim.ws_fakes import API_KEY, FakeBroker, FakeMarket, report
from tradeguard.adapters.openalgo.feed import OpenAlgoFeed
from tradeguard.adapters.openalgo.polling import PollingConfig
from tradeguard.adapters.openalgo.watchdog import WatchdogConfig
from tradeguard.adapters.sim.ws_server import SimWsServer
from tradeguard.core.broker import OrderReport, OrderStatus
from tradeguard.core.model import Tick

A = ("RELIANCE", "NSE")
B = ("NIFTY", "NSE_INDEX")
C = ("INFY", "NSE")
T0 = 1_712_572_800_000  # epoch ms
NS = 1_000_000


@dataclass
class Rig:
    server: SimWsServer
    market: FakeMarket
    broker: FakeBroker
    feed: OpenAlgoFeed
    ticks: list[Tick] = field(default_factory=list)
    orders: list[OrderReport] = field(default_factory=list)
    reconnected: int = 0
    quote_calls: list[list[tuple[str, str]]] = field(default_factory=list)
    quotes: dict[tuple[str, str], int] = field(default_factory=dict)

    def ticks_for(self, key: tuple[str, str]) -> list[Tick]:
        return [t for t in self.ticks if (t.symbol, t.exchange) == key]

    def subscribe_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.server.requests if r.get("action") == "subscribe"]

    def subscribed_symbols(self) -> list[tuple[str, str]]:
        return [
            (e["symbol"], e["exchange"]) for r in self.subscribe_requests() for e in r["symbols"]
        ]

    async def connected_with(self, *keys: tuple[str, str]) -> None:
        want = [{(s, e, 1) for s, e in keys}]
        await eventually(lambda: self.server.subscriptions() == want, message=f"subs {keys}")


async def make_rig(polling: PollingConfig | None = None, **kwargs: Any) -> Rig:
    market, broker = FakeMarket(), FakeBroker()
    server = SimWsServer(market, broker, api_key=API_KEY, port=0)
    await server.start()
    rig = Rig(server, market, broker, feed=None)  # type: ignore[arg-type]

    async def on_reconnect() -> None:
        rig.reconnected += 1

    async def quotes(symbols: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        rig.quote_calls.append(list(symbols))
        return {k: v for k, v in rig.quotes.items() if k in symbols}

    options: dict[str, Any] = {"backoff_s": (0.01,), "jitter": 0.0, "on_reconnect": on_reconnect}
    options.update(kwargs)
    if polling is not None:
        options.update(quotes=quotes, polling=polling)
    rig.feed = OpenAlgoFeed(server.url, API_KEY, **options)
    rig.feed.set_handlers(rig.ticks.append, rig.orders.append)
    return rig


@pytest_asyncio.fixture
async def rig() -> AsyncIterator[Rig]:
    rig = await make_rig()
    await rig.feed.start()
    try:
        await eventually(lambda: rig.feed.connected, message="feed connected")
        yield rig
    finally:
        await rig.feed.stop()
        await rig.server.stop()


@pytest.mark.asyncio
async def test_ticks_flow_end_to_end(rig: Rig) -> None:
    await rig.feed.subscribe([A])
    await rig.connected_with(A)
    rig.market.tick(*A, 14_240_500, 1_712_572_800_000)
    await eventually(lambda: rig.ticks)
    assert rig.ticks == [Tick("RELIANCE", "NSE", 14_240_500, 1_712_572_800_000_000_000)]
    assert rig.feed.last_tick_at(*A) is not None
    assert rig.feed.last_tick_at(*B) is None


@pytest.mark.asyncio
async def test_each_symbol_is_subscribed_once_in_ltp_mode(rig: Rig) -> None:
    await rig.feed.subscribe([A])
    await rig.feed.subscribe([A])
    await rig.feed.subscribe([A, B])
    await rig.feed.subscribe([B, A])
    await rig.feed.subscribe([C])  # marker: once C is in, every earlier message was handled
    await rig.connected_with(A, B, C)
    assert rig.subscribed_symbols() == [A, B, C]
    for request in rig.subscribe_requests():
        assert request["mode"] == 1
        assert set(request) == {"action", "symbols", "mode", "request_id"}
    orders = [r for r in rig.server.requests if r.get("action") == "subscribe_orders"]
    assert len(orders) == 1
    assert rig.server.order_subscribers() == 1


@pytest.mark.asyncio
async def test_unsubscribe_sends_mode_per_entry_and_stops_ticks(rig: Rig) -> None:
    await rig.feed.subscribe([A, B])
    await rig.connected_with(A, B)
    await rig.feed.unsubscribe([A])
    await rig.connected_with(B)
    unsub = [r for r in rig.server.requests if r.get("action") == "unsubscribe"]
    assert [r["symbols"] for r in unsub] == [[{"symbol": "RELIANCE", "exchange": "NSE", "mode": 1}]]
    rig.market.tick(*A, 14_240_500, T0 + 1)
    rig.market.tick(*B, 225_000_000, T0 + 2)
    await eventually(lambda: rig.ticks_for(B))
    assert rig.ticks_for(A) == []
    await rig.feed.unsubscribe([A])  # not subscribed any more: nothing sent
    await rig.feed.subscribe([A])  # and it comes back with one subscribe
    await rig.connected_with(A, B)
    assert len([r for r in rig.server.requests if r.get("action") == "unsubscribe"]) == 1
    assert rig.subscribed_symbols() == [A, B, A]


@pytest.mark.asyncio
async def test_duplicate_ticks_and_order_updates_are_dropped(rig: Rig) -> None:
    await rig.feed.subscribe([A, B])
    await rig.connected_with(A, B)
    await eventually(lambda: rig.server.order_subscribers() == 1)
    rig.server.set_duplicate_ticks(True)
    rig.server.set_duplicate_order_updates(True)
    rig.market.tick(*A, 14_240_500, T0 + 1)
    rig.market.tick(*A, 14_240_500, T0 + 2)  # same price, new time: a real tick
    rig.broker.emit(report("1", OrderStatus.OPEN, filled=0, average=None))
    rig.broker.emit(report("1", OrderStatus.OPEN, filled=4, average=None))  # partial fill moved
    rig.broker.emit(report("1", OrderStatus.COMPLETE, filled=10))
    rig.market.tick(*B, 225_000_000, T0 + 3)  # marker: everything before it has arrived
    await eventually(lambda: rig.ticks_for(B))
    assert [t.exchange_ts for t in rig.ticks_for(A)] == [(T0 + 1) * NS, (T0 + 2) * NS]
    assert [(o.status, o.filled_quantity) for o in rig.orders] == [
        (OrderStatus.OPEN, 0),
        (OrderStatus.OPEN, 4),
        (OrderStatus.COMPLETE, 10),
    ]
    assert rig.orders[-1].average_price == 14_238_500
    assert rig.feed.duplicates_dropped == 6


@pytest.mark.asyncio
async def test_malformed_messages_are_dropped_not_fatal(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.feed.subscribe([A])
    await rig.connected_with(A)
    bad = [
        "not json",
        "[1, 2]",
        json.dumps({"type": "market_data", "symbol": "RELIANCE", "exchange": "NSE"}),
        json.dumps({"type": "market_data", "symbol": "RELIANCE", "exchange": "NSE",
                    "data": {"ltp": "abc"}}),
        json.dumps({"type": "market_data", "symbol": "RELIANCE", "exchange": "NSE",
                    "data": {"ltp": 0}}),
        json.dumps({"type": "market_data", "exchange": "NSE", "data": {"ltp": 1.5}}),
        json.dumps({"type": "order_update", "order_status": "complete"}),
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING):
        for text in bad:
            rig.server.inject_raw(text)
        rig.market.tick(*A, 14_240_500, T0 + 1)
        await eventually(lambda: rig.ticks)
    assert rig.feed.malformed == len(bad)
    assert rig.ticks == [Tick("RELIANCE", "NSE", 14_240_500, (T0 + 1) * NS)]
    assert rig.orders == []
    assert rig.feed.connected
    assert rig.feed.reconnects == 0
    assert "not json" in caplog.text  # the message itself is logged


@pytest.mark.asyncio
async def test_handler_errors_do_not_stop_the_feed(rig: Rig) -> None:
    seen: list[Tick] = []

    def explode(tick: Tick) -> None:
        seen.append(tick)
        raise RuntimeError("handler bug")

    rig.feed.set_handlers(explode, rig.orders.append)
    await rig.feed.subscribe([A])
    await rig.connected_with(A)
    rig.market.tick(*A, 14_240_500, T0 + 1)
    rig.market.tick(*A, 14_241_000, T0 + 2)
    await eventually(lambda: len(seen) == 2)
    assert rig.feed.connected


@pytest.mark.asyncio
async def test_drop_reconnects_resubscribes_and_calls_on_reconnect(rig: Rig) -> None:
    await rig.feed.subscribe([A, B])
    await rig.connected_with(A, B)
    assert rig.server.drop_all() == 1
    await eventually(lambda: rig.feed.reconnects == 1 and rig.reconnected == 1)
    await rig.connected_with(A, B)
    await eventually(lambda: rig.server.order_subscribers() == 1)
    assert rig.subscribed_symbols() == [A, B, A, B]  # once per connection
    assert [r.get("action") for r in rig.server.requests].count("authenticate") == 2
    rig.market.tick(*A, 14_240_500, T0 + 7)
    rig.broker.emit(report("9"))
    await eventually(lambda: rig.ticks and rig.orders)
    assert rig.ticks == [Tick("RELIANCE", "NSE", 14_240_500, (T0 + 7) * NS)]
    assert rig.feed.connected
    status = rig.feed.status()
    assert status["reconnects"] == 1
    assert API_KEY not in repr(status)


@pytest.mark.asyncio
async def test_refused_connections_back_off_and_keep_retrying() -> None:
    rig = await make_rig()
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    rig.feed = OpenAlgoFeed(
        rig.server.url,
        API_KEY,
        backoff_s=(1, 2, 5),
        jitter=0.5,
        rand=lambda: 1.0,
        sleep=fake_sleep,
    )
    rig.server.refuse_connections(True)
    await rig.feed.start()
    try:
        await eventually(lambda: len(delays) >= 5, message="five retries")
        assert delays[:5] == [1.5, 3.0, 7.5, 7.5, 7.5]  # capped schedule, +50% jitter
        assert not rig.feed.connected
        assert "InvalidStatus" in rig.feed.last_error
        rig.server.refuse_connections(False)
        await eventually(lambda: rig.feed.connected, message="connected once allowed")
        assert rig.feed.reconnects == 0  # the first successful connection is not a reconnect
    finally:
        await rig.feed.stop()
        await rig.server.stop()


@pytest.mark.asyncio
async def test_bad_key_retries_and_never_logs_the_key(caplog: pytest.LogCaptureFixture) -> None:
    rig = await make_rig()
    secret = "5ec7e7" + "0123456789abcdef" * 3 + "c0ffee1234"
    rig.feed = OpenAlgoFeed(rig.server.url, secret, backoff_s=(0.01,), jitter=0.0)
    with caplog.at_level(logging.DEBUG):
        await rig.feed.start()
        try:
            await eventually(lambda: rig.feed.attempts >= 3, message="retries")
            assert not rig.feed.connected
            assert "AUTHENTICATION_ERROR" in rig.feed.last_error
        finally:
            await rig.feed.stop()
            await rig.server.stop()
    assert caplog.records  # debug logging was on
    assert secret[:8] not in caplog.text  # websockets would log a truncated frame
    assert secret[:8] not in repr(rig.feed.status())


def test_backoff_jitter_stays_within_bounds() -> None:
    feed = OpenAlgoFeed("ws://127.0.0.1:1", API_KEY, jitter=0.2, rand=lambda: 0.0)
    assert [feed.backoff.delay(i) for i in range(7)] == [0.8, 1.6, 4.0, 8.0, 24.0, 24.0, 24.0]


# -- staleness and the polling fallback -------------------------------------------------------


@pytest.mark.asyncio
async def test_stale_stream_is_covered_by_polling() -> None:
    rig = await make_rig(PollingConfig(interval_s=0.02, stale_after_s=0.1))
    rig.quotes = {A: 15_000_000, B: 225_000_000}
    before = time.time_ns()  # a slow machine may poll before set_stale: stale after 0.1 s
    await rig.feed.start()
    try:
        await rig.feed.subscribe([A, B])
        await rig.connected_with(A, B)
        rig.server.set_stale(True)
        await eventually(lambda: rig.ticks_for(A) and rig.ticks_for(B), message="polled ticks")
        tick = rig.ticks_for(A)[-1]  # the stream is silent: every tick is a poll
        assert tick.ltp == 15_000_000
        assert before <= tick.exchange_ts <= time.time_ns()  # local receive time
        assert rig.feed.connected  # the socket is open, only silent
        assert rig.feed.fallback is not None
        assert rig.feed.fallback.status()["polled_ticks"] >= 2
        assert rig.feed.last_stream_tick_at(*A) is None  # polls are not stream ticks
        assert rig.feed.last_tick_at(*A) == tick.exchange_ts
    finally:
        await rig.feed.stop()
        await rig.server.stop()


@pytest.mark.asyncio
async def test_disconnected_feed_is_covered_by_polling() -> None:
    rig = await make_rig(PollingConfig(interval_s=0.02, stale_after_s=60.0))
    rig.quotes = {A: 15_000_000}
    await rig.feed.start()
    try:
        await rig.feed.subscribe([A])
        await rig.connected_with(A)
        rig.server.refuse_connections(True)
        rig.server.drop_all()
        await eventually(lambda: not rig.feed.connected, message="feed down")
        polled = len(rig.ticks_for(A))  # polls before the first connection count too
        await eventually(lambda: len(rig.ticks_for(A)) > polled, message="polled tick while down")
        assert not rig.feed.connected
        assert rig.quote_calls[-1] == [A]
        rig.server.refuse_connections(False)
        await eventually(lambda: rig.feed.reconnects == 1)
    finally:
        await rig.feed.stop()
        await rig.server.stop()


def test_stale_symbols_counts_from_subscription_and_last_stream_tick() -> None:
    now = [0]
    feed = OpenAlgoFeed("ws://127.0.0.1:1", API_KEY, clock_ns=lambda: now[0])
    feed.streams.want([A, B])
    assert feed.stale_symbols(0, 1.0) == [A, B]  # not connected: everything is blind
    feed._connected = True
    feed.streams.since = {A: 0, B: 0}
    assert feed.stale_symbols(1_000_000_000, 1.0) == []
    feed.handle_message(json.dumps({"type": "market_data", "symbol": "RELIANCE",
                                    "exchange": "NSE", "data": {"ltp": 10}}))  # fmt: skip
    now[0] = 900_000_000
    feed.handle_message(json.dumps({"type": "market_data", "symbol": "RELIANCE",
                                    "exchange": "NSE", "data": {"ltp": 11}}))  # fmt: skip
    assert feed.stale_symbols(1_500_000_000, 1.0) == [B]
    assert feed.stale_symbols(2_000_000_000, 1.0) == [A, B]


# -- a dead connection is dropped and replaced (OpenAlgo's re-login) --------------------------


@pytest.mark.asyncio
async def test_an_error_reply_after_a_relogin_drops_the_connection_and_reconnects() -> None:
    rig = await make_rig(watchdog=None)  # the error reply alone must do it
    await rig.feed.start()
    try:
        await rig.feed.subscribe([A])
        await rig.connected_with(A)
        rig.server.set_session_down(True)  # the trader logs out and in again: the proxy drops
        rig.server.set_session_down(False)  # its broker adapter, the old socket goes silent
        rig.market.tick(*A, 14_240_500, T0 + 1)
        await rig.feed.subscribe([B])  # answered BROKER_ERROR "Broker adapter not found"
        await eventually(lambda: rig.feed.reconnects == 1 and rig.reconnected == 1)
        assert rig.feed.last_drop == "OpenAlgo feed error BROKER_ERROR: Broker adapter not found"
        await rig.connected_with(A, B)
        await eventually(lambda: rig.server.order_subscribers() == 1)
        rig.market.tick(*A, 14_241_000, T0 + 2)
        await eventually(lambda: rig.ticks, message="ticks on the new connection")
        assert rig.ticks == [Tick("RELIANCE", "NSE", 14_241_000, (T0 + 2) * NS)]
        assert rig.feed.last_error == ""
    finally:
        await rig.feed.stop()
        await rig.server.stop()


@pytest.mark.asyncio
async def test_the_watchdog_probe_finds_the_adapter_gone_and_reconnects() -> None:
    rig = await make_rig(watchdog=WatchdogConfig(silence_s=0.1, probe_interval_s=0.1))
    await rig.feed.start()
    try:
        await rig.feed.subscribe([A])
        await rig.connected_with(A)
        rig.server.set_session_down(True)
        rig.server.set_session_down(False)  # no new subscription: only the probe can tell
        await eventually(lambda: rig.feed.reconnects == 1, message="reconnected")
        assert rig.feed.last_drop == "OpenAlgo's broker adapter for this connection is gone"
        assert rig.feed.watchdog is not None
        assert rig.feed.watchdog.probes >= 1
        assert [r.get("action") for r in rig.server.requests].count("get_broker_info") >= 1
        await rig.connected_with(A)
        rig.market.tick(*A, 14_240_500, T0 + 3)
        await eventually(lambda: rig.ticks, message="ticks again")
    finally:
        await rig.feed.stop()
        await rig.server.stop()


@pytest.mark.asyncio
async def test_a_silent_socket_while_rest_quotes_move_is_dropped_with_backoff() -> None:
    delays: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        delays.append(seconds)

    rig = await make_rig(
        PollingConfig(interval_s=60.0, stale_after_s=60.0),  # the fallback stays out of it
        watchdog=WatchdogConfig(silence_s=0.05, probe_interval_s=0.05),
        backoff_s=(0.01, 0.02, 0.04),
        sleep=recorded_sleep,
    )
    rig.quotes = {A: 15_000_000}
    await rig.feed.start()
    try:
        await rig.feed.subscribe([A])
        await rig.connected_with(A)
        rig.market.tick(*A, 15_000_000, T0 + 1)
        await eventually(lambda: rig.ticks)
        rig.server.set_stale(True)  # the socket stays open, the adapter is there: silent
        rig.quotes = {A: 15_010_000}  # ... while the REST quote moves
        await eventually(lambda: rig.feed.reconnects >= 3, message="silent sockets dropped")
        assert rig.quote_calls
        assert all(call == [A] for call in rig.quote_calls)
        assert delays[:3] == [0.01, 0.02, 0.04]  # no tick on the new ones: the backoff grows
        assert rig.ticks_for(A)[-1].ltp == 15_010_000  # the watchdog's quote went through
        status = rig.feed.status()
        assert status["watchdog"]["drops"] >= 3

        rig.server.set_stale(False)
        reconnects = rig.feed.reconnects
        await rig.connected_with(A)
        rig.market.tick(*A, 15_020_000, T0 + 2)
        await eventually(lambda: rig.ticks_for(A)[-1].ltp == 15_020_000)
        assert rig.feed.connected
        assert rig.feed.reconnects <= reconnects + 1
    finally:
        await rig.feed.stop()
        await rig.server.stop()


@pytest.mark.asyncio
async def test_a_quiet_market_keeps_the_connection() -> None:
    rig = await make_rig(
        PollingConfig(interval_s=60.0, stale_after_s=60.0),
        watchdog=WatchdogConfig(silence_s=0.05, probe_interval_s=0.05),
    )
    rig.quotes = {A: 15_000_000}
    await rig.feed.start()
    try:
        await rig.feed.subscribe([A])
        await rig.connected_with(A)
        rig.market.tick(*A, 15_000_000, T0 + 1)
        await eventually(lambda: rig.ticks)
        assert rig.feed.watchdog is not None
        await eventually(lambda: rig.feed.watchdog.probes >= 5, message="probes")  # type: ignore[union-attr]
        assert rig.feed.connected
        assert rig.feed.reconnects == 0
        assert rig.feed.watchdog.drops == 0
    finally:
        await rig.feed.stop()
        await rig.server.stop()


@pytest.mark.asyncio
async def test_health_shows_the_feed_down_while_a_dropped_connection_waits_to_reconnect() -> None:
    gate = asyncio.Event()

    async def held_sleep(seconds: float) -> None:
        await gate.wait()

    rig = await make_rig(watchdog=None, sleep=held_sleep)
    await rig.feed.start()
    try:
        await eventually(lambda: rig.feed.connected)
        await rig.feed.subscribe([A])
        await rig.connected_with(A)
        rig.server.set_session_down(True)
        rig.server.set_session_down(False)
        await rig.feed.subscribe([B])
        await eventually(lambda: not rig.feed.connected, message="dropped")
        assert rig.feed.status()["connected"] is False
        assert rig.feed.stale_symbols(time.time_ns(), 60.0) == [A, B]  # blind: poll them
        gate.set()
        await eventually(lambda: rig.feed.connected and rig.feed.reconnects == 1)
    finally:
        await rig.feed.stop()
        await rig.server.stop()
