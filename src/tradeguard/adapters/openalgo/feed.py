"""Adapters layer: OpenAlgo's WebSocket feed as an app.ports.MarketFeed.

Protocol (openalgo-interface.md §3): authenticate with `api_key` (the reply can take seconds:
the proxy connects the broker first), subscribe in LTP mode (1) with the `symbols` list key,
unsubscribe with `mode` inside every entry, `subscribe_orders` for order updates. The app
reference-counts symbols; this feed still sends each symbol once per connection, whatever is
asked, by reconciling the wanted set with what was sent on the current connection.

Ticks and order updates are parsed by `feed_parse`; exact duplicate ticks (symbol, exchange,
ltp, time) and duplicate order updates (orderid, order_status, filled_quantity) are dropped; a
malformed message is logged and dropped. On any drop the feed reconnects forever, with capped
exponential backoff and jitter, re-authenticates, resubscribes everything and the order stream,
then calls `on_reconnect` (OpenAlgo does not replay missed order updates: reconcile then).
While it is blind, an optional `PollingFallback` feeds REST quotes through the same tick path.

A connection that is open but dead is dropped too (then reconnected the same way): any error
reply (`{"status":"error",...}`, no `type`: e.g. BROKER_ERROR "Broker adapter not found",
what OpenAlgo answers on a socket opened before a re-login), a `get_broker_info` answer with
`adapter_status: disconnected`, and the `FeedWatchdog`'s verdict (silent while REST quotes
move); see `watchdog`. Symbol state lives in `feed_streams.SymbolStreams`, the reconnect delay
in `feed_backoff.ReconnectBackoff` (after a dead connection, only a tick resets it).

Staleness: `last_tick_at` is the last price from any source (stream or poll), so the app knows
whether it is blind; `stale_symbols` looks at the stream only, so polling knows when to help.
The api key is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tradeguard.adapters.openalgo.feed_backoff import ReconnectBackoff
from tradeguard.adapters.openalgo.feed_parse import (
    FeedMessageError,
    Key,
    RecentKeys,
    batches,
    json_object,
    parse_market_data,
    parse_order_update,
    quiet_ws_logger,
    refused_entries,
    subscribe_message,
    unsubscribe_message,
)
from tradeguard.adapters.openalgo.feed_streams import SymbolStreams
from tradeguard.adapters.openalgo.polling import PollingConfig, PollingFallback, QuotesFn
from tradeguard.adapters.openalgo.watchdog import FeedWatchdog, WatchdogConfig
from tradeguard.app.ports import OrderUpdateHandler, TickHandler
from tradeguard.core.model import Tick

log = logging.getLogger(__name__)

DEFAULT_STALE_S = 30.0  # status() threshold without a fallback (OpenAlgo's own plan uses 30 s)
DEFAULT_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
_LOGGED_CHARS = 300
_WS_LOG = quiet_ws_logger("tradeguard.adapters.openalgo.feed.ws")


class FeedAuthError(Exception):
    """The proxy refused authentication (bad key, no broker session...)."""


class OpenAlgoFeed:
    """Live ticks and order updates from OpenAlgo's WebSocket proxy (see module docstring)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        on_reconnect: Callable[[], Awaitable[None] | None] | None = None,
        quotes: QuotesFn | None = None,
        polling: PollingConfig | None = None,
        watchdog: WatchdogConfig | None = WatchdogConfig(),  # noqa: B008 - frozen, immutable
        subscribe_orders: bool = True,
        auth_timeout_s: float = 10.0,  # a real OpenAlgo answers in ms: a silent one is dropped
        open_timeout_s: float = 10.0,
        ping_interval_s: float | None = 20.0,
        backoff_s: Sequence[float] = DEFAULT_BACKOFF_S,
        jitter: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._on_reconnect = on_reconnect
        self._want_orders = subscribe_orders
        self._auth_timeout = auth_timeout_s
        self._open_timeout = open_timeout_s
        self._ping_interval = ping_interval_s
        self.backoff = ReconnectBackoff(backoff_s, jitter, rand)
        self._sleep = sleep
        self._clock = clock_ns
        self._on_tick: TickHandler | None = None
        self._on_order: OrderUpdateHandler | None = None
        self.streams = SymbolStreams()
        self._drop_reason: str | None = None  # why we closed the current connection
        self._tick_keys = RecentKeys(8192)
        self._order_keys = RecentKeys(8192)
        self._ws: ClientConnection | None = None
        self._sub_lock = asyncio.Lock()
        self._request_ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._connected = False
        self._ever_connected = False
        self.reconnects = 0
        self.attempts = 0
        self.ticks = 0
        self.duplicates_dropped = 0
        self.malformed = 0
        self.last_error = ""
        self.dead_drops = 0  # connections we closed as dead (see drop_connection)
        self.last_drop = ""
        self.connected_at: int | None = None
        self.fallback = (
            PollingFallback(self, quotes, polling, clock_ns=clock_ns) if quotes else None
        )
        self.watchdog = (
            FeedWatchdog(self, quotes, watchdog, clock_ns=clock_ns) if watchdog else None
        )

    # -- MarketFeed ---------------------------------------------------------------------------

    def set_handlers(self, on_tick: TickHandler, on_order: OrderUpdateHandler) -> None:
        self._on_tick = on_tick
        self._on_order = on_order

    async def start(self) -> None:
        """Start connecting in the background (and polling, if configured); returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="openalgo-feed")
        if self.fallback is not None:
            await self.fallback.start()
        if self.watchdog is not None:
            await self.watchdog.start()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if self.fallback is not None:
            await self.fallback.stop()
        if self.watchdog is not None:
            await self.watchdog.stop()
        tasks = [t for t in (task, *self._side_tasks) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._connected = False

    async def subscribe(self, symbols: Sequence[tuple[str, str]]) -> None:
        self.streams.want(symbols)
        await self._sync()

    async def unsubscribe(self, symbols: Sequence[tuple[str, str]]) -> None:
        self.streams.unwant(symbols)
        await self._sync()

    @property
    def connected(self) -> bool:
        return self._connected

    def last_tick_at(self, symbol: str, exchange: str) -> int | None:
        """Local receive time (epoch ns) of the last price, streamed or polled."""
        return self.streams.priced_at.get((symbol, exchange))

    # -- staleness and polling support --------------------------------------------------------

    def subscribed(self) -> list[Key]:
        return list(self.streams.wanted)

    def last_stream_tick_at(self, symbol: str, exchange: str) -> int | None:
        return self.streams.tick_at.get((symbol, exchange))

    def stale_symbols(self, now_ns: int, threshold_s: float) -> list[Key]:
        """Subscribed symbols silent on the stream for more than `threshold_s` (counting from
        their last streamed tick or their subscription on this connection); all of them while
        disconnected."""
        return self.streams.stale(now_ns, threshold_s, self._connected)

    def silent_since(self) -> tuple[int, int] | None:
        """(this connection's id, epoch ns of its last tick, or of its first subscription
        when none came yet) while connected with a subscription OpenAlgo accepted."""
        since = self.streams.silent_since() if self._connected else None
        return None if since is None else (self.attempts, since)

    def last_stream_price(self, symbol: str, exchange: str) -> int | None:
        return self.streams.price.get((symbol, exchange))

    def ingest_polled(self, prices: Mapping[Key, int], received_ns: int) -> int:
        """Feed polled quotes (units) as ticks stamped with the receive time; returns how many."""
        fed = 0
        for (symbol, exchange), units in prices.items():
            if (symbol, exchange) in self.streams.wanted and units > 0:
                self._deliver(Tick(symbol, exchange, units, received_ns), received_ns)
                fed += 1
        return fed

    def status(self) -> dict[str, Any]:
        """Connection, counters and per-symbol staleness, for /health (never the api key)."""
        now = self._clock()
        stale_after = self.fallback.config.stale_after_s if self.fallback else DEFAULT_STALE_S
        return {
            "connected": self._connected,
            "url": self._url,
            "reconnects": self.reconnects,
            "attempts": self.attempts,
            "connected_at": self.connected_at,
            "last_error": self.last_error,
            "dead_drops": self.dead_drops,
            "last_drop": self.last_drop,
            "subscribed": len(self.streams.wanted),
            "rejected": {f"{e}:{s}": msg for (s, e), msg in self.streams.rejected.items()},
            "ticks": self.ticks,
            "duplicates_dropped": self.duplicates_dropped,
            "malformed": self.malformed,
            "stale": [f"{e}:{s}" for s, e in self.stale_symbols(now, stale_after)],
            "polling": self.fallback.status() if self.fallback else None,
            "watchdog": self.watchdog.status() if self.watchdog else None,
        }

    # -- connection loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.attempts += 1
            self._drop_reason = None
            try:
                async with connect(
                    self._url,
                    open_timeout=self._open_timeout,
                    ping_interval=self._ping_interval,
                    close_timeout=2,
                    proxy=None,
                    max_queue=1024,
                    logger=_WS_LOG,
                ) as ws:
                    await self._authenticate(ws)
                    self.backoff.authenticated()
                    await self._on_connected(ws)
                    await self._read(ws)
                self.last_error = "connection closed by the server"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure means: back off and try again
                self.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                heard_at = self.streams.heard_at
                self._on_disconnected()
            if self._drop_reason is not None:
                self.last_error = self._drop_reason
            delay = self.backoff.ended(
                heard=heard_at is not None, dropped_as_dead=self._drop_reason is not None
            )
            log.warning("OpenAlgo feed down (%s); reconnecting in %.1fs", self.last_error, delay)
            await self._sleep(delay)

    async def _authenticate(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"action": "authenticate", "api_key": self._api_key}))
        async with asyncio.timeout(self._auth_timeout):
            async for raw in ws:
                msg = json_object(raw)
                if msg is None:
                    continue
                if msg.get("type") == "auth" and msg.get("status") == "success":
                    log.info("OpenAlgo feed authenticated (broker %s)", msg.get("broker"))
                    return
                if msg.get("status") == "error":
                    raise FeedAuthError(f"{msg.get('code')}: {msg.get('message')}")
        raise ConnectionError("closed before authentication completed")

    async def _on_connected(self, ws: ClientConnection) -> None:
        self._ws = ws  # what was sent on the last connection was cleared when it ended
        self._connected = True
        self.connected_at = self._clock()
        self.last_error = ""
        await self._sync()
        if self._want_orders:
            await self._send({"action": "subscribe_orders", "request_id": self._rid("o")})
        if self._ever_connected:
            self.reconnects += 1
            log.info("OpenAlgo feed reconnected (%d symbols resubscribed)", len(self.streams.sent))
            self._fire_reconnect()
        self._ever_connected = True

    def _on_disconnected(self) -> None:
        self._ws = None
        self._connected = False
        self.streams.connection_lost()

    def drop_connection(self, reason: str) -> None:
        """Close the current connection as dead (`reason` logged, kept as `last_error`); the
        connection loop reconnects with backoff. At once: `connected` is False from here."""
        ws = self._ws
        if ws is None or self._drop_reason is not None:
            return
        self._drop_reason = self.last_drop = reason
        self.dead_drops += 1
        self._connected = False
        log.warning("OpenAlgo feed connection dropped: %s", reason)
        self._side(ws.close(code=1000, reason="tradeguard: connection dead"))

    async def probe_adapter(self) -> None:
        """Ask the proxy whether this connection's broker adapter is still there."""
        if self._connected:
            await self._send({"action": "get_broker_info"})

    def _side(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _fire_reconnect(self) -> None:
        callback = self._on_reconnect
        if callback is None:
            return

        async def run() -> None:
            try:
                result = callback()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("on_reconnect callback failed")

        self._side(run())

    # -- subscriptions ------------------------------------------------------------------------

    def _rid(self, prefix: str) -> str:
        return f"{prefix}-{next(self._request_ids)}"

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        # On a closed connection the read loop reconnects and resubscribes everything then.
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(message))

    async def _sync(self) -> None:
        """Make the current connection's subscriptions equal the wanted set."""
        async with self._sub_lock:
            if self._ws is None or not self._connected:
                return
            streams, now = self.streams, self._clock()
            for batch in batches(streams.to_add()):
                streams.sent_now(batch, now)
                await self._send(subscribe_message(batch, self._rid("s")))
            for batch in batches(streams.to_drop()):
                streams.dropped_now(batch)
                await self._send(unsubscribe_message(batch, self._rid("u")))

    # -- incoming messages --------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self.handle_message(raw)

    def handle_message(self, raw: str | bytes) -> None:
        """Process one pushed frame; never raises."""
        received = self._clock()
        msg = json_object(raw)
        if msg is None:
            self._malformed("not a JSON object", raw)
            return
        kind = msg.get("type")
        try:
            if kind == "market_data":
                self._handle_tick(parse_market_data(msg, received), received)
            elif kind == "order_update":
                self._handle_order(msg)
            elif kind == "subscribe":
                for key, why in refused_entries(msg).items():
                    self.streams.rejected[key] = why
                    log.error("OpenAlgo refused %s:%s: %s", key[1], key[0], why)
            elif kind == "broker_info" and msg.get("adapter_status") == "disconnected":
                self.drop_connection("OpenAlgo's broker adapter for this connection is gone")
            elif kind is None and msg.get("status") == "error":
                # the answer to a request (subscribe after a re-login: BROKER_ERROR "Broker
                # adapter not found"): this connection cannot be trusted any more
                self.drop_connection(f"OpenAlgo feed error {msg.get('code')}: {msg.get('message')}")
            else:
                log.debug("OpenAlgo feed message %s ignored", kind)
        except FeedMessageError as exc:
            self._malformed(str(exc), raw)

    def _malformed(self, why: str, raw: str | bytes) -> None:
        self.malformed += 1
        text = raw if isinstance(raw, str) else repr(raw)
        log.warning("dropping malformed feed message (%s): %s", why, text[:_LOGGED_CHARS])

    def _handle_tick(self, tick: Tick, received: int) -> None:
        key = (tick.symbol, tick.exchange)
        if key not in self.streams.wanted:
            return  # in flight after an unsubscribe
        if self._tick_keys.seen(tick):
            self.duplicates_dropped += 1
            return
        self.streams.streamed(key, tick.ltp, received)
        self._deliver(tick, received)

    def _deliver(self, tick: Tick, received: int) -> None:
        self.streams.priced_at[(tick.symbol, tick.exchange)] = received
        self.ticks += 1
        if self._on_tick is None:
            return
        try:
            self._on_tick(tick)
        except Exception:
            log.exception("tick handler failed for %s:%s", tick.exchange, tick.symbol)

    def _handle_order(self, msg: Mapping[str, Any]) -> None:
        report, key = parse_order_update(msg)
        if self._order_keys.seen(key):
            self.duplicates_dropped += 1
            return
        if self._on_order is None:
            return
        try:
            self._on_order(report)
        except Exception:
            log.exception("order handler failed for order %s", report.order_id)
