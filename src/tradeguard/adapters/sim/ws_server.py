"""Adapters layer: the simulator's OpenAlgo-compatible WebSocket server.

Speaks OpenAlgo's WebSocket proxy protocol (openalgo-interface.md §3) over `websockets`:
authenticate/auth within a grace period (else close 4401), subscribe, per-entry-mode
unsubscribe, unsubscribe_all, subscribe_orders, ping, and the real `market_data` /
`order_update` / error shapes (built in `ws_protocol`). It owns no market state: prices come
from a `TickSource` (the sim market), order events from an `OrderSource` (the paper broker).

Faults switch on at run time: drop every connection (1011), go silent (stale), send every tick
or order update twice, refuse new connections (HTTP 503), or push raw text to clients. Broker
session down (`set_session_down`) is OpenAlgo around the daily re-login, as observed with the
real proxy (v2.0.2.1): authenticate with the right key answers BROKER_ERROR ("No broker
configuration found for user") and the proxy drops the user's broker adapter. Open sockets stay
open but silent, also once the session is back: their subscribe and unsubscribe answer
BROKER_ERROR "Broker adapter not found" (no `type` field) and get_broker_info says
`adapter_status: disconnected`. The next successful authenticate (a fresh connection) creates
a new adapter: from then on the symbols subscribed through it tick again, for every socket
holding a subscription to them (old ones too: the proxy keeps their subscriptions). Order
updates reach every socket that asked for them throughout.

The sim publishes one tick shape whatever the mode: a client gets each tick once, tagged with
its lowest subscribed mode for that symbol. Every message to a client goes through one queue,
so replies, ticks and order updates reach it in the order they were produced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tradeguard.adapters.sim import ws_protocol as proto
from tradeguard.core.broker import OrderReport

log = logging.getLogger(__name__)

TickCallback = Callable[[str, str, int, int], None]
"""callback(symbol, exchange, ltp_units, ts_ms)"""
OrderCallback = Callable[[OrderReport], None]
Key = tuple[str, str]  # (symbol, exchange)

AUTH_TIMEOUT_CODE = 4401
NO_BROKER_SESSION = "No broker configuration found for user"
NO_ADAPTER = "Broker adapter not found"
DROP_CODE = 1011
_PRE_AUTH = frozenset({"authenticate", "auth", "ping", "get_supported_brokers"})
_ACTIONS = frozenset(
    {
        "subscribe", "unsubscribe", "unsubscribe_all", "subscribe_orders",
        "unsubscribe_orders", "ping", "get_broker_info", "get_supported_brokers",
    }
)  # fmt: skip


class _NoFrameLogs(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets logs every frame at DEBUG, api keys included: never for this server."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_WS_LOG = _NoFrameLogs(logging.getLogger("tradeguard.adapters.sim.ws_server.ws"), {})


class TickSource(Protocol):
    """The sim market: tells listeners every price change."""

    def add_tick_listener(self, callback: TickCallback) -> None: ...


class OrderSource(Protocol):
    """The paper broker: tells listeners every order event (placement, fill, rejection...)."""

    def add_order_listener(self, callback: OrderCallback) -> None: ...


@dataclass(eq=False)
class _Client:
    conn: ServerConnection
    outbox: asyncio.Queue[tuple[str, Key | None]]  # text, and the tick's key (or None)
    authenticated: bool = False
    orders: bool = False
    subs: set[proto.Sub] = field(default_factory=set)

    def lowest_mode(self, symbol: str, exchange: str) -> int | None:
        for mode in (1, 2, 3):
            if (symbol, exchange, mode) in self.subs:
                return mode
        return None


class SimWsServer:
    """OpenAlgo WebSocket proxy look-alike for the simulator (see the module docstring)."""

    def __init__(
        self,
        market: TickSource,
        broker: OrderSource,
        *,
        api_key: str,
        host: str = "127.0.0.1",
        port: int = 8765,
        auth_grace_s: float = 15.0,
        auth_delay_s: float = 0.0,
        broker_name: str = "sim",
        user_id: str = "sim",
        max_outbox: int = 4096,
    ) -> None:
        self._api_key = api_key
        self._host = host
        self._requested_port = port
        self.auth_grace_s = auth_grace_s
        self.auth_delay_s = auth_delay_s
        self.broker_name = broker_name
        self.user_id = user_id
        self._max_outbox = max_outbox
        self._server: Server | None = None
        self._clients: set[_Client] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._stale = False
        self._dup_ticks = False
        self._dup_orders = False
        self._refuse = False
        self._session_down = False
        self._upstream: set[Key] | None = None  # the adapter's symbols; None: no adapter
        self._send_watch: dict[Key, Callable[[int], None]] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=1000)
        """Recent client messages (api keys removed), newest last: for tests and debugging."""
        market.add_tick_listener(self._on_tick)
        broker.add_order_listener(self._on_order)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._server = await serve(
            self._handle,
            self._host,
            self._requested_port,
            process_request=self._process_request,
            logger=_WS_LOG,
        )
        log.info("sim WebSocket server listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection (1001) and the listening socket; wait for handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> SimWsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}"

    # -- fault injection ----------------------------------------------------------------------

    def drop_all(self) -> int:
        """Close every client connection with code 1011; returns how many there were."""
        clients = list(self._clients)
        for client in clients:
            self._spawn(client.conn.close(DROP_CODE, "simulated feed drop"))
        log.warning("sim WS: dropping %d connection(s)", len(clients))
        return len(clients)

    def set_stale(self, on: bool) -> None:
        """Keep sockets open but send no ticks (replies and order updates still flow)."""
        self._stale = on

    def set_duplicate_ticks(self, on: bool) -> None:
        self._dup_ticks = on

    def set_duplicate_order_updates(self, on: bool) -> None:
        self._dup_orders = on

    def refuse_connections(self, on: bool) -> None:
        """Answer new WebSocket handshakes with HTTP 503 (open connections stay)."""
        self._refuse = on

    def set_session_down(self, on: bool) -> None:
        """Broker session down: authenticate answers BROKER_ERROR and the broker adapter of
        every open socket is gone for good (see the module docstring); open connections stay,
        and keep answering pings and getting order updates."""
        if on != self._session_down:
            log.warning("sim WS: broker session %s", "down" if on else "up again")
        if on:
            self._upstream = None
        self._session_down = on

    def _has_adapter(self, client: _Client) -> bool:
        return client.authenticated and self._upstream is not None

    def stamp_next_send(self, symbol: str, exchange: str, stamp: Callable[[int], None]) -> None:
        """Call `stamp(time.time_ns())` once, just before the next tick of symbol/exchange is
        written to a client's WebSocket (after this server's own queueing): the moment the tick
        leaves the simulator, for latency benchmarks."""
        self._send_watch[(symbol, exchange)] = stamp

    def inject_raw(self, text: str) -> int:
        """Send `text` as-is to every authenticated client; returns how many got it."""
        clients = [c for c in self._clients if c.authenticated]
        for client in clients:
            self._enqueue(client, text)
        return len(clients)

    def faults(self) -> dict[str, bool]:
        return {
            "stale": self._stale,
            "duplicate_ticks": self._dup_ticks,
            "duplicate_order_updates": self._dup_orders,
            "refuse_connections": self._refuse,
            "session_down": self._session_down,
        }

    # -- introspection ------------------------------------------------------------------------

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def subscriptions(self) -> list[set[proto.Sub]]:
        """Each authenticated client's (symbol, exchange, mode) subscriptions."""
        return [set(c.subs) for c in self._clients if c.authenticated]

    def order_subscribers(self) -> int:
        return sum(1 for c in self._clients if c.authenticated and c.orders)

    # -- hooks from the market and the broker -------------------------------------------------

    def _on_tick(self, symbol: str, exchange: str, ltp_units: int, ts_ms: int) -> None:
        if self._handed_to_loop(self._on_tick, symbol, exchange, ltp_units, ts_ms):
            return
        if self._stale or self._server is None:
            return
        if self._upstream is None or (symbol, exchange) not in self._upstream:
            return  # no adapter, or the adapter does not stream the symbol
        for client in list(self._clients):
            mode = client.lowest_mode(symbol, exchange) if client.authenticated else None
            if mode is None:
                continue
            message = proto.market_data(symbol, exchange, mode, ltp_units, ts_ms, self.broker_name)
            text = json.dumps(message)
            self._enqueue(client, text, (symbol, exchange))
            if self._dup_ticks:
                self._enqueue(client, text)

    def _on_order(self, report: OrderReport) -> None:
        if self._handed_to_loop(self._on_order, report):
            return
        if self._server is None:
            return
        text = json.dumps(proto.order_update(report, self.user_id, self.broker_name))
        for client in list(self._clients):
            if client.authenticated and client.orders:
                self._enqueue(client, text)
                if self._dup_orders:
                    self._enqueue(client, text)

    def _handed_to_loop(self, func: Callable[..., None], *args: Any) -> bool:
        """Hand a hook call made from another thread to the server's loop."""
        if self._loop is None or threading.get_ident() == self._loop_thread:
            return False
        self._loop.call_soon_threadsafe(func, *args)
        return True

    # -- connections --------------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self._refuse:
            return conn.respond(503, "connections refused (simulated fault)\n")
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        client = _Client(conn, asyncio.Queue(self._max_outbox))
        self._clients.add(client)
        writer = asyncio.create_task(self._write_loop(client))
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(self.auth_grace_s, self._auth_deadline, client)
        try:
            async for raw in conn:
                await self._dispatch(client, raw)
        except ConnectionClosed:
            pass
        finally:
            deadline.cancel()
            self._clients.discard(client)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _write_loop(self, client: _Client) -> None:
        watch = self._send_watch
        try:
            while True:
                text, key = await client.outbox.get()
                if key is not None and watch:
                    stamp = watch.pop(key, None)
                    if stamp is not None:
                        stamp(time.time_ns())
                await client.conn.send(text)
        except ConnectionClosed:
            return

    def _auth_deadline(self, client: _Client) -> None:
        if not client.authenticated and client in self._clients:
            log.warning("sim WS: client did not authenticate within %ss", self.auth_grace_s)
            self._spawn(client.conn.close(AUTH_TIMEOUT_CODE, "auth timeout"))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _enqueue(self, client: _Client, text: str, key: Key | None = None) -> None:
        try:
            client.outbox.put_nowait((text, key))
        except asyncio.QueueFull:
            log.warning("sim WS: client too slow (%d queued), closing", client.outbox.qsize())
            self._spawn(client.conn.close(1013, "client too slow"))

    def _send(self, client: _Client, message: proto.Message) -> None:
        self._enqueue(client, json.dumps(message))

    # -- protocol -----------------------------------------------------------------------------

    async def _dispatch(self, client: _Client, raw: str | bytes) -> None:
        try:
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            request = None
        if not isinstance(request, dict):
            self._send(client, proto.error("INVALID_JSON", "Invalid JSON message"))
            return
        action = request.get("action") or request.get("type")
        self.requests.append({k: v for k, v in request.items() if k not in ("api_key", "apikey")})
        if action in ("authenticate", "auth"):
            await self._authenticate(client, request)
        elif action not in _ACTIONS:
            self._send(client, proto.error("INVALID_ACTION", f"Invalid action: {action}"))
        elif not client.authenticated and action not in _PRE_AUTH:
            self._send(client, proto.error("NOT_AUTHENTICATED", "You must authenticate first"))
        else:
            self._send(client, self._answer(client, str(action), request))

    def _answer(self, client: _Client, action: str, request: proto.Message) -> proto.Message:
        broker = self.broker_name
        if action in ("subscribe", "unsubscribe", "unsubscribe_all") and not self._has_adapter(
            client
        ):
            return proto.error("BROKER_ERROR", NO_ADAPTER)
        if action == "subscribe":
            reply = proto.subscribe(client.subs, request, broker)
            if self._upstream is not None:
                self._upstream.update((s, e) for s, e, _ in client.subs)
            return reply
        if action in ("unsubscribe", "unsubscribe_all"):
            return proto.unsubscribe(client.subs, request, broker)
        if action in ("subscribe_orders", "unsubscribe_orders"):
            client.orders = action == "subscribe_orders"
            return proto.orders_reply(client.orders, request)
        if action == "ping":
            return proto.pong(request)
        if action == "get_broker_info":
            adapter = "connected" if self._has_adapter(client) else "disconnected"
            return {"type": "broker_info", "status": "success", "broker": broker,
                    "adapter_status": adapter, "user_id": self.user_id}  # fmt: skip
        return {"type": "supported_brokers", "status": "success", "brokers": [broker]}

    async def _authenticate(self, client: _Client, request: proto.Message) -> None:
        key = request.get("api_key") or request.get("apikey")
        if not key:
            self._send(client, proto.error("AUTHENTICATION_ERROR", "API key is required"))
            return
        if key != self._api_key:
            self._send(client, proto.error("AUTHENTICATION_ERROR", "Invalid API key"))
            return
        if self._session_down:  # the proxy finds no broker session for the key's user
            self._send(client, proto.error("BROKER_ERROR", NO_BROKER_SESSION))
            return
        if self.auth_delay_s > 0:
            await asyncio.sleep(self.auth_delay_s)  # the real proxy connects the broker first
        if self._upstream is None:
            self._upstream = set()  # the proxy creates the user's broker adapter
        client.authenticated = True
        self._send(client, proto.auth_success(self.broker_name, self.user_id))
