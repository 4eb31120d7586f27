"""Benchmarks: the REST API and the dashboard stream under load.

One process, one event loop, as `tradeguard run` serves them: the embedded simulator (random
walk on SYMBOLS symbols, TICKS_PER_SYMBOL ticks/s each), the real OpenAlgo gateway and feed, a
SQLite store, the monitor holding N_TRADES trades (no exit rules, so they stay), and the API
app on uvicorn over loopback. 16 concurrent httpx clients call `activetrades` (every trade:
~1,000 views a reply), then `createtrade` (explicit trades: one write-through each), for a
fixed window each; the latency is per request as the client sees it. Then one logged-in
dashboard WebSocket counts the messages /ui/stream pushes while the ticks flow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

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
from tradeguard.interfaces.api import ApiOptions, build_app

N_TRADES = 1_000
CLIENTS = 16
WINDOW_S = 5.0
SYMBOLS = 50
TICKS_PER_SYMBOL = 10.0
PASSWORD = "benchmark-password"
NOTES = """\
Reading it: `activetrades` returns all 1,000 trade views per reply (~440 KB of JSON), so it is
bound by building and encoding the views on the one event loop (~15-25 ms a reply, during
which ticks wait); clients that poll it should pass `strategy` or use the dashboard stream. The
stream pushes each changed trade at most 4 times a second (the app-level publisher runs every
250 ms and the stream coalesces per trade), so its rate is bounded by trades x 4/s however fast
ticks arrive. The first request with a key pays one argon2 verification (~0.3 s here); later
ones are checked against an in-memory keyed digest.
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
    stream_messages_per_s: float
    stream_trade_updates_per_s: float


async def _load(url: str, body: dict[str, object], path: str, window: float) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + window

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                reply = await http.post(path, json=body)
                latencies.append(time.perf_counter() - t0)
                if reply.status_code != 200:
                    errors += 1

    async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:
        await http.post(path, json=body)  # warm-up: the key's one argon2 check
    start = time.perf_counter()
    deadline = start + window
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return Load(
        requests=len(ordered),
        errors=errors,
        per_s=len(ordered) / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
    )


async def _stream_rate(url: str, window: float) -> tuple[float, float]:
    async with httpx.AsyncClient(base_url=url) as http:
        token = (await http.get("/auth/csrf")).json()["csrf_token"]
        await http.post(
            "/auth/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token}
        )
        cookie = f"tg_session={http.cookies['tg_session']}"
    messages = trades = 0
    ws_url = url.replace("http", "ws") + "/ui/stream"
    async with websockets.connect(
        ws_url, additional_headers={"Cookie": cookie}, max_size=None
    ) as ws:
        await ws.recv()  # the snapshot
        deadline = time.perf_counter() + window
        while (left := deadline - time.perf_counter()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            messages += 1
            trades += json.loads(raw)["kind"] == "trade"
    return messages / window, trades / window


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
                "bench", "load", {"max_open_positions": 1_000_000}, actor="bench"
            )
            for i in range(n_trades):
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
            app = build_app(service, accounts, ApiOptions(rate=1e9, burst=1_000_000_000))
            server = AsgiServer(app, port=0)
            await server.start()
            publisher = asyncio.create_task(ViewPublisher(service).run())
            try:
                ticks0, t0 = runtime.monitor.counters.ticks, time.perf_counter()
                active = await _load(server.url, {"apikey": key}, "/api/v1/activetrades", window)
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
                ticks_per_s = (runtime.monitor.counters.ticks - ticks0) / (time.perf_counter() - t0)
                stream, stream_trades = await _stream_rate(server.url, window)
            finally:
                publisher.cancel()
                await asyncio.gather(publisher, return_exceptions=True)
                await server.stop()
                await runtime.stop()
                await gateway.aclose()
                await store.close()
    return ApiResult(n_trades, ticks_per_s, active, created, stream, stream_trades)


def run(n_trades: int = N_TRADES, window: float = WINDOW_S) -> ApiResult:
    logging.getLogger("tradeguard").setLevel(logging.ERROR)
    return run_loop(run_async(n_trades, window))


def rows(result: ApiResult) -> list[tuple[str, str, str]]:
    def load(name: str, value: Load) -> tuple[str, str, str]:
        return (
            f"{name} ({CLIENTS} clients)",
            f"{value.per_s:,.0f} req/s; p50 {value.p50_ms:.1f} ms, p99 {value.p99_ms:.1f} ms",
            f"{value.requests:,} requests, {value.errors} errors",
        )

    return [
        (
            "workload",
            f"{result.trades:,} trades held, {SYMBOLS} symbols walking",
            f"{result.ticks_per_s:,.0f} ticks/s processed during the API load",
        ),
        load("activetrades (all trades a reply)", result.activetrades),
        load("createtrade (explicit, write-through)", result.createtrade),
        (
            "dashboard stream push rate",
            f"{result.stream_messages_per_s:,.0f} messages/s",
            f"of which trade updates {result.stream_trade_updates_per_s:,.0f}/s "
            "(each trade at most 4/s)",
        ),
    ]
