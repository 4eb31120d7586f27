"""Benchmarks: the REST API and the dashboard stream under load.

One process, one event loop, as `tradeguard run` serves them: the embedded simulator (random
walk on SYMBOLS symbols, TICKS_PER_SYMBOL ticks/s each), the real OpenAlgo gateway and feed, a
SQLite store, the monitor holding N_TRADES trades (no exit rules, so they stay), and the API
app on uvicorn over loopback. 16 concurrent httpx clients call `activetrades` (every trade:
~1,000 views a reply), then `createtrade` (explicit trades: one write-through each), for a
fixed window each; the latency is per request as the client sees it.

Then the dashboard stream, with the ticks still flowing on every trade's symbol: SNAPSHOTS new
logged-in dashboards connect one after the other (time from opening the WebSocket to the
`snapshot` message read); the last one stays connected for a window, counting the WebSocket
messages /ui/stream sends and the trade updates they carry, while a probe trade on a symbol
of its own (PROBE, not walking) gets a new price every PROBE_EVERY seconds through the
simulator's market (the same path as a walk step: the tick goes out over the simulator's
WebSocket to the feed): the lag is from setting that price to reading the first stream
update of the probe trade that shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import websockets
from cryptography.fernet import Fernet

from tradeguard.adapters.asgi_server import AsgiServer
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.openalgo.feed import OpenAlgoFeed
from tradeguard.adapters.openalgo.polling import PollingConfig
from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.adapters.security import Argon2Hasher, FernetBox
from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.app.accounts import AccountService
from tradeguard.app.publisher import ViewPublisher
from tradeguard.app.runtime import AppRuntime
from tradeguard.app.service import CreateTrade
from tradeguard.bootstrap.loop import run as run_loop
from tradeguard.core.money import fmt
from tradeguard.interfaces.api import ApiOptions, build_app

N_TRADES = 1_000
CLIENTS = 16
WINDOW_S = 5.0
STREAM_WINDOW_S = 10.0
SYMBOLS = 50
TICKS_PER_SYMBOL = 10.0
SNAPSHOTS = 5
PROBE = "PROBE"
PROBE_EVERY = 0.3
PASSWORD = "benchmark-password"
REPLY_ROUNDS = 20
NOTES = """\
Reading it: `activetrades` returns all 1,000 trade views per reply (~450 KB of JSON). Each
trade's view and its JSON text are kept (app.live_views) and rebuilt only when the trade
changed (its symbol ticked, a level moved, its rules or its exit changed), so a reply joins
1,000 cached texts plus the rebuilds of the trades whose symbol ticked since the previous
reply: with every symbol ticking 10 times a second, the faster the replies come, the fewer
views each one rebuilds. The dashboard publisher reads the same cache every 250 ms and sends
one event per account a round; each dashboard connection coalesces per trade and writes at
most one WebSocket message per 250 ms (a `batch` when it holds several updates), as soon as
one is pending, so the lag from a tick to the dashboard is the wait for the next publisher
round plus the frame's trip. The snapshot of a new dashboard joins the cached texts. The
first request with a key pays one argon2 verification (~0.3 s); later ones are checked
against an in-memory keyed digest.
"""


@dataclass(slots=True)
class Load:
    requests: int
    errors: int
    per_s: float
    p50_ms: float
    p99_ms: float


@dataclass(slots=True)
class ApiResult:
    trades: int
    ticks_per_s: float
    activetrades: Load
    createtrade: Load
    stream: StreamLoad
    reply: ReplyCost


@dataclass(slots=True)
class ReplyCost:
    """Milliseconds of the event loop to make one activetrades body of every trade (median of
    REPLY_ROUNDS back-to-back calls, no tick in between): built fresh and encoded (what every
    request did before the views were cached), as served, and as served when every trade
    changed since the previous call (None on code without the view cache)."""

    fresh_ms: float
    served_ms: float
    all_changed_ms: float | None


@dataclass(slots=True)
class StreamLoad:
    messages_per_s: float
    trade_updates_per_s: float
    ticks_per_s: float
    snapshot_ms: list[float]
    snapshot_bytes: int
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    probes: int
    probes_seen: int


async def _load(url: str, body: dict[str, object], path: str, window: float) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + window

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            reply = await http.post(path, json=body)
            latencies.append(time.perf_counter() - t0)
            if reply.status_code != 200:
                errors += 1

    # The clients are made (and connected) before the window: making one loads the CA
    # bundle (~10-150 ms of the one event loop), which would land inside the measured requests.
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=120.0))
            for _ in range(CLIENTS)
        ]
        for http in clients:  # warm-up: connected, and the key's one argon2 check done
            await http.post(path, json=body)
        start = time.perf_counter()
        deadline = start + window
        await asyncio.gather(*(client(http) for http in clients))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return Load(
        requests=len(ordered),
        errors=errors,
        per_s=len(ordered) / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
    )


async def _login(url: str) -> str:
    async with httpx.AsyncClient(base_url=url) as http:
        token = (await http.get("/auth/csrf")).json()["csrf_token"]
        await http.post(
            "/auth/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token}
        )
        return f"tg_session={http.cookies['tg_session']}"


def _updates(raw: str | bytes) -> list[dict[str, Any]]:
    """The `{"kind", "data"}` updates one stream message carries (a `batch` carries several)."""
    message = json.loads(raw)
    if message["kind"] == "batch":
        return list(message["data"])
    return [message]


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, int(len(ordered) * q) - 1)] if ordered else float("nan")


async def _stream(
    url: str, sim: EmbeddedSimulator, window: float, ticks: Callable[[], int]
) -> StreamLoad:
    cookie = await _login(url)
    ws_url = url.replace("http", "ws") + "/ui/stream"
    headers = {"Cookie": cookie}
    snapshot_ms: list[float] = []
    size = 0
    for _ in range(SNAPSHOTS - 1):
        t0 = time.perf_counter()
        async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as ws:
            size = len(await ws.recv())
            snapshot_ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as ws:
        size = len(await ws.recv())
        snapshot_ms.append((time.perf_counter() - t0) * 1000)
        sent: dict[str, float] = {}  # probe price -> when it was set
        lags: list[float] = []
        probe_price = 1000 * 10_000

        async def probe() -> None:
            nonlocal probe_price
            while True:
                await asyncio.sleep(PROBE_EVERY)
                probe_price += 500  # 0.05 rupee up each time: every price is new
                sent[fmt(probe_price)] = time.perf_counter()
                sim.market.set_price(PROBE, "NSE", probe_price)

        messages = trades = 0
        ticks0 = ticks()
        prober = asyncio.create_task(probe())
        start = time.perf_counter()
        deadline = start + window
        try:
            while (left := deadline - time.perf_counter()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                now = time.perf_counter()
                messages += 1
                for update in _updates(raw):
                    if update["kind"] != "trade":
                        continue
                    trades += 1
                    data = update["data"]
                    if data.get("symbol") == PROBE:
                        t_set = sent.pop(data.get("last_price"), None)
                        if t_set is not None:
                            lags.append(now - t_set)
        finally:
            prober.cancel()
            await asyncio.gather(prober, return_exceptions=True)
        elapsed = time.perf_counter() - start
        probes = len(lags) + len(sent)
    ordered = sorted(lags)
    return StreamLoad(
        messages_per_s=messages / elapsed,
        trade_updates_per_s=trades / elapsed,
        ticks_per_s=(ticks() - ticks0) / elapsed,
        snapshot_ms=snapshot_ms,
        snapshot_bytes=size,
        lag_p50_ms=statistics.median(ordered) * 1000 if ordered else float("nan"),
        lag_p99_ms=_percentile(ordered, 0.99) * 1000,
        lag_max_ms=ordered[-1] * 1000 if ordered else float("nan"),
        probes=probes,
        probes_seen=len(lags),
    )


def _reply_cost(service: Any, account: str) -> ReplyCost:
    def fresh() -> object:
        views = [service._trade_view(t) for t in service.engine.trades() if t.account == account]
        return json.dumps({"status": "success", "data": views}, separators=(",", ":"))

    def served() -> object:
        if hasattr(service, "active_trades_json"):
            return service.active_trades_json(account)
        return fresh()  # before the cache: the route built every view for every request

    def timed(call: Callable[[], object], before: Callable[[], object] | None = None) -> float:
        samples = []
        for _ in range(REPLY_ROUNDS):
            if before is not None:
                before()
            t0 = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1000

    served()  # the cache filled
    views = getattr(getattr(service, "ops", None), "trade_views", None)
    changed = None if views is None else timed(served, lambda: views.retain(()))
    return ReplyCost(timed(fresh), timed(served), changed)


async def run_async(n_trades: int = N_TRADES, window: float = WINDOW_S) -> ApiResult:
    symbols = tuple((f"SYM{i:03d}", "NSE", "1000") for i in range(SYMBOLS))
    options = SimulatorOptions(
        symbols=symbols, ticks_per_second=TICKS_PER_SYMBOL, rate_limits=RateLimits(enabled=False)
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedSimulator(options) as sim:
            store = await SqlStore.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
            gateway = OpenAlgoGateway(sim.rest_url, sim.apikey)
            feed = OpenAlgoFeed(
                sim.ws_url, sim.apikey, quotes=gateway.quotes, polling=PollingConfig()
            )
            runtime = AppRuntime(gateway, feed, store, SystemClock())
            sim.market.set_price(PROBE, "NSE", 1000 * 10_000)  # a symbol of its own, not walking
            await runtime.start()
            service = runtime.service
            accounts = AccountService(
                store, Argon2Hasher(), FernetBox(Fernet.generate_key()), SystemClock()
            )
            await accounts.load()
            await accounts.create_account("bench", actor="bench")
            key = await accounts.issue_api_key("bench", actor="bench")
            await accounts.create_user("bench", PASSWORD, "bench", actor="bench")
            await service.configure_strategy(
                "bench", "load", {"max_open_positions": 10_000}, actor="bench"
            )
            for i in range(n_trades - 1):  # and the probe trade: n_trades in all
                await service.create_trade(
                    "bench",
                    CreateTrade(
                        strategy="load",
                        symbol=symbols[i % SYMBOLS][0],
                        exchange="NSE",
                        action="BUY",
                        quantity=1,
                        price=Decimal("1000"),
                    ),
                    actor="bench",
                )
            await service.create_trade(
                "bench",
                CreateTrade(
                    strategy="load",
                    symbol=PROBE,
                    exchange="NSE",
                    action="BUY",
                    quantity=1,
                    price=Decimal("1000"),
                ),
                actor="bench",
            )
            reply = _reply_cost(service, "bench")
            app = build_app(service, accounts, ApiOptions(rate=1e9, burst=1_000_000_000))
            server = AsgiServer(app, port=0)
            await server.start()
            publisher = asyncio.create_task(ViewPublisher(service).run())
            try:
                ticks0, t0 = runtime.monitor.counters.ticks, time.perf_counter()
                active = await _load(server.url, {"apikey": key}, "/api/v1/activetrades", window)
                ticks_per_s = (runtime.monitor.counters.ticks - ticks0) / (time.perf_counter() - t0)
                # the stream before createtrade adds its thousands of trades
                stream = await _stream(
                    server.url, sim, STREAM_WINDOW_S, lambda: runtime.monitor.counters.ticks
                )
                created = await _load(
                    server.url,
                    {
                        "apikey": key,
                        "strategy": "load",
                        "symbol": symbols[0][0],
                        "exchange": "NSE",
                        "action": "BUY",
                        "quantity": "1",
                        "price": "1000",
                    },
                    "/api/v1/createtrade",
                    window,
                )
            finally:
                publisher.cancel()
                await asyncio.gather(publisher, return_exceptions=True)
                await server.stop()
                await runtime.stop()
                await gateway.aclose()
                await store.close()
    return ApiResult(n_trades, ticks_per_s, active, created, stream, reply)


def run(n_trades: int = N_TRADES, window: float = WINDOW_S) -> ApiResult:
    logging.getLogger("tradeguard").setLevel(logging.ERROR)
    return run_loop(run_async(n_trades, window))


def rows(result: ApiResult) -> list[tuple[str, str, str]]:
    stream = result.stream
    reply = result.reply

    def load(name: str, value: Load) -> tuple[str, str, str]:
        return (
            f"{name} ({CLIENTS} clients)",
            f"{value.per_s:,.0f} req/s; p50 {value.p50_ms:.1f} ms, p99 {value.p99_ms:.1f} ms",
            f"{value.requests:,} requests, {value.errors} errors",
        )

    return [
        (
            "workload",
            f"{result.trades:,} trades held, {SYMBOLS} symbols walking "
            f"({TICKS_PER_SYMBOL:.0f} ticks/s each) + the probe",
            f"{result.ticks_per_s:,.0f} ticks/s processed during the activetrades load",
        ),
        load("activetrades (all trades a reply)", result.activetrades),
        (
            "activetrades body, 1,000 trades (loop time)",
            f"{reply.served_ms:.1f} ms as served; {reply.fresh_ms:.1f} ms built fresh",
            "every trade changed since the last call: "
            + (
                "n/a (no view cache)"
                if reply.all_changed_ms is None
                else f"{reply.all_changed_ms:.1f} ms"
            )
            + f"; median of {REPLY_ROUNDS}",
        ),
        load("createtrade (explicit, write-through)", result.createtrade),
        (
            f"dashboard snapshot ({SNAPSHOTS} new connections)",
            f"median {statistics.median(stream.snapshot_ms):.1f} ms, "
            f"max {max(stream.snapshot_ms):.1f} ms",
            f"{stream.snapshot_bytes / 1000:,.0f} KB, {result.trades:,} trades",
        ),
        (
            "dashboard stream",
            f"{stream.messages_per_s:,.0f} messages/s carrying "
            f"{stream.trade_updates_per_s:,.0f} trade updates/s",
            f"{stream.ticks_per_s:,.0f} ticks/s processed meanwhile",
        ),
        (
            "tick -> dashboard update (probe trade)",
            f"p50 {stream.lag_p50_ms:.0f} ms, p99 {stream.lag_p99_ms:.0f} ms, "
            f"max {stream.lag_max_ms:.0f} ms",
            f"{stream.probes_seen} of {stream.probes} probe prices shown "
            f"one every {PROBE_EVERY * 1000:.0f} ms; missing ones were overtaken by a newer one",
        ),
    ]
