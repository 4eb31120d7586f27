"""Benchmarks: end to end over loopback: tick-to-order latency and the sustainable tick rate.

The embedded simulator runs in its own thread with its own event loop (OpenAlgo is another
process in real life); tradeguard (real OpenAlgo gateway and WebSocket feed, SQLite store, app
runtime) runs on the main loop. 1,000 LONG trades on 1,000 symbols, each entered by a real
order at the simulator and guarded through createtrade, each with a 5-point stop.

Latency: one tick at a time, a price through one trade's stop. t0 = just before
`SimMarket.set_price` (the tick then goes out over the simulator's WebSocket); t1 = when the
exit's `placeorder` reaches the simulator's REST handler (a wrapper around the handler, in
this benchmark only). Both are `time.perf_counter_ns()` of the one process.

Throughput: the simulator publishes non-triggering ticks round-robin over the 1,000 symbols at
a target rate for a window; "sustained" means the service processed what was sent (backlog at
the end of the window at most 2% of the ticks sent, drained within 0.25 s after, and the
simulator really published at least 95% of the target rate).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.openalgo.feed import OpenAlgoFeed
from tradeguard.adapters.openalgo.polling import PollingConfig
from tradeguard.adapters.openalgo.ratelimit import RateLimitConfig
from tradeguard.adapters.openalgo.rest_gateway import OpenAlgoGateway
from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.app.resolve import ExecutorPolicy
from tradeguard.app.runtime import AppRuntime, RuntimeOptions
from tradeguard.app.service import CreateTrade
from tradeguard.core.broker import OrderRequest
from tradeguard.core.money import to_units

N_TRADES = 1_000
RATES = (1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000)
WINDOW_S = 2.0
ENTRY = to_units("1000")
UNLIMITED = RateLimitConfig(orders=1_000_000, smart_orders=1_000_000, api=1_000_000)


@dataclass(slots=True)
class RatePoint:
    target: int
    sent: int
    processed: int
    backlog_end: int
    drain_s: float | None

    @property
    def sent_rate(self) -> float:
        return self.sent / WINDOW_S

    @property
    def generator_limited(self) -> bool:
        """The simulator (sharing the GIL) could not publish the target rate."""
        return self.sent < 0.95 * self.target * WINDOW_S

    @property
    def sustained(self) -> bool:
        return (
            not self.generator_limited
            and self.backlog_end <= 0.02 * self.sent
            and self.drain_s is not None
            and self.drain_s <= 0.25
        )


@dataclass(slots=True)
class E2EResult:
    trades: int
    setup_s: float
    latencies_ns: list[int]
    rates: list[RatePoint] = field(default_factory=list)
    book_ms: float = 0.0  # one positionbook round trip with every position open
    ping_ms: float = 0.0  # one ping round trip: the floor of any REST call

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[max(0, round(len(ordered) * p / 100) - 1)] / 1e6

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ns) / 1e6

    @property
    def max_sustained(self) -> RatePoint | None:
        ok = [r for r in self.rates if r.sustained]
        return max(ok, key=lambda r: r.target) if ok else None


class SimThread:
    """The embedded simulator on its own event loop in a background thread."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sim", daemon=True)
        self.sim = EmbeddedSimulator(options)

    def start(self) -> None:
        self.thread.start()
        self.run(self.sim.start())

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _symbols(n: int) -> list[str]:
    return [f"S{i:04d}" for i in range(n)]


async def _setup(sim: SimThread, data: Path, n: int) -> tuple[AppRuntime, OpenAlgoGateway, float]:
    s = sim.sim
    gateway = OpenAlgoGateway(s.rest_url, s.apikey, timeout=5.0, rate_limits=UNLIMITED)
    feed = OpenAlgoFeed(
        s.ws_url, s.apikey, quotes=gateway.quotes, polling=PollingConfig(stale_after_s=30.0)
    )
    store = await SqlStore.open(f"sqlite:///{data / 'bench.db'}")
    policy = ExecutorPolicy(poll_interval=0.05, poll_max_interval=0.2, book_interval=0.05)
    runtime = AppRuntime(gateway, feed, store, SystemClock(), RuntimeOptions(policy=policy))
    await runtime.start()
    service = runtime.service
    settings = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "5"}
    await service.configure_strategy(
        "bench", "e2e", settings | {"max_open_positions": n + 1}, actor="bench"
    )
    started = time.perf_counter()

    async def entries() -> list[str]:
        return [
            s.broker.submit(OrderRequest(sym, "NSE", "BUY", 1, "MIS", "bench-entry"))
            for sym in _symbols(n)
        ]

    order_ids = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(entries(), sim.loop))
    for chunk in range(0, n, 50):
        await asyncio.gather(
            *(
                service.create_trade("bench", CreateTrade("e2e", order_id=oid), actor="bench")
                for oid in order_ids[chunk : chunk + 50]
            )
        )
    await _until(lambda: feed.connected and len(feed.subscribed()) >= n)
    await _until(lambda: bool(s.ws.subscriptions()) and len(s.ws.subscriptions()[0]) >= n)
    return runtime, gateway, time.perf_counter() - started


async def _until(condition: Callable[[], bool], within: float = 60.0) -> None:
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the benchmark set-up did not complete")


async def _latency(sim: SimThread, n: int) -> list[int]:
    s, loop = sim.sim, asyncio.get_running_loop()
    endpoint, handler = s.api.endpoints["placeorder"]
    arrived: dict[str, int] = {}
    waiters: dict[str, asyncio.Future[int]] = {}

    async def timed(data: dict[str, Any]) -> Any:
        at = time.perf_counter_ns()
        symbol = str(data["symbol"])
        if symbol in waiters and symbol not in arrived:
            arrived[symbol] = at
            loop.call_soon_threadsafe(waiters[symbol].set_result, at)
        return await handler(data)

    s.api.endpoints["placeorder"] = (endpoint, timed)
    sent: dict[str, int] = {}

    def tick(symbol: str) -> None:
        sent[symbol] = time.perf_counter_ns()
        s.market.set_price(symbol, "NSE", ENTRY - to_units("6"))

    latencies = []
    for symbol in _symbols(n):
        waiters[symbol] = loop.create_future()
        sim.call(tick, symbol)
        at = await asyncio.wait_for(waiters[symbol], timeout=10)
        latencies.append(at - sent[symbol])
    s.api.endpoints["placeorder"] = (endpoint, handler)
    return latencies


async def _rate(sim: SimThread, runtime: AppRuntime, symbols: list[str], rate: int) -> RatePoint:
    s, counters = sim.sim, runtime.monitor.counters
    state = {"sent": 0, "stop": False}
    prices = [ENTRY + to_units(x) for x in ("0.05", "0.10", "0.15", "0.20")]

    async def publish() -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < WINDOW_S:
            due = int((time.perf_counter() - start) * rate)
            while state["sent"] < due:
                k = state["sent"]
                s.market.set_price(
                    symbols[k % len(symbols)], "NSE", prices[(k // len(symbols)) % 4]
                )
                state["sent"] += 1
            await asyncio.sleep(0.002)

    base = counters.ticks
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(publish(), sim.loop))
    sent, processed = state["sent"], counters.ticks - base
    end = time.perf_counter()
    drained = None
    while time.perf_counter() - end < 0.5:
        if counters.ticks - base >= sent:
            drained = time.perf_counter() - end
            break
        await asyncio.sleep(0.001)
    return RatePoint(rate, sent, processed, sent - processed, drained)


async def _run(n: int, rates: tuple[int, ...]) -> E2EResult:
    logging.getLogger("tradeguard").setLevel(logging.ERROR)
    options = SimulatorOptions(
        walk=False,
        symbols=tuple((sym, "NSE", "1000") for sym in _symbols(n)),
        rate_limits=RateLimits(enabled=False),
    )
    sim = SimThread(options)
    sim.sim.ws._max_outbox = 1_000_000  # measure our backlog, not the sim's slow-client cut-off
    sim.start()
    with tempfile.TemporaryDirectory() as data:
        runtime, gateway, setup_s = await _setup(sim, Path(data), n)
        try:
            rates_out = []
            for rate in rates:  # the trades are all open: every tick is evaluated
                point = await _rate(sim, runtime, _symbols(n), rate)
                rates_out.append(point)
            book_ms = await _mean_ms(gateway.position_book)
            ping_ms = await _mean_ms(gateway.ping)
            latencies = await _latency(sim, n)
        finally:
            await runtime.stop()
            await gateway.aclose()
            await runtime.store.close()  # type: ignore[attr-defined]
            sim.stop()
    return E2EResult(n, setup_s, latencies, rates_out, book_ms, ping_ms)


async def _mean_ms(call: Callable[[], Any], times: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(times):
        await call()
    return (time.perf_counter() - start) / times * 1000


def run(n: int = N_TRADES, rates: tuple[int, ...] = RATES) -> E2EResult:
    return asyncio.run(_run(n, rates))


def rows(result: E2EResult) -> list[tuple[str, str, str]]:
    best = result.max_sustained
    p99 = result.pct(99)
    out = [
        ("workload", f"{result.trades:,} trades on {result.trades:,} symbols, 5-point stops", ""),
        ("setup (entries + createtrade)", f"{result.setup_s:.1f} s", "over REST"),
        ("tick -> placeorder p50", f"{result.p50_ms:.2f} ms", ""),
        (
            "tick -> placeorder p99",
            f"{p99:.2f} ms",
            f"goal < 5 ms: {'met' if p99 < 5 else 'MISSED'}",
        ),
        ("tick -> placeorder max", f"{max(result.latencies_ns) / 1e6:.2f} ms", ""),
        (
            "for comparison: positionbook read",
            f"{result.book_ms:.2f} ms",
            f"{result.trades:,} rows, not on the exit path (it reads openposition); "
            f"a REST ping costs {result.ping_ms:.2f} ms",
        ),
    ]
    for point in result.rates:
        out.append(
            (
                f"rate {point.target:,}/s",
                f"sent {point.sent_rate:,.0f}/s, backlog at end {point.backlog_end:,}",
                "sustained"
                if point.sustained
                else ("simulator could not publish it" if point.generator_limited else "behind"),
            )
        )
    out.append(("highest sustained tick rate", f"{best.target:,} ticks/s" if best else "none", ""))
    return out
