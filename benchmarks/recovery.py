"""Benchmarks: persistence and recovery on the synthetic workload (workload.py: 10,000 open
trades on 1,000 symbols in 50 strategies).

1. Recovery in-process: a SQLite file seeded with the 10,000 ACTIVE trades (the snapshots
   `Monitor.add_trade` writes) and a paper broker holding every entry's position and order;
   timed: `SqlStore.open` (schema check) and `AppRuntime.start()` (load, rebuild, read both
   books, reconcile, subscribe, start-up quotes), i.e. until monitoring resumes.
2. Recovery as a process: the same seed behind the embedded simulator's REST/WebSocket servers
   (in this process), `tradeguard run` spawned against it; timed: spawn -> its "monitoring N
   trades" log line (interpreter start and imports included).
3. Sustained tick rate: ticks driven through `Monitor.on_tick` as fast as possible for SECONDS
   (yielding to the event loop every 256 ticks so the flush loop and exit tasks run; the tick
   path is replayed forwards then backwards, so every symbol's price stays continuous), once
   with SQLite and a 1 s flush interval, once engine-only (the same trades read back from the
   same SQLite seed, then an in-memory store that writes nothing, no flush: objects born from
   database rows are what the service holds, so both sides start from identical state). Exits
   fill at the paper broker in both. Rounds are interleaved, alternating which side runs first
   (engine-only then persisted, then the other way round, so a steady drift in the shared
   machine's speed favours neither side), and the cost is the median of the per-round costs.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.workload import Workload, build
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.sim.embedded import EmbeddedSimulator, SimulatorOptions
from tradeguard.adapters.sim.faults import RateLimits
from tradeguard.adapters.sim.market import SimMarket
from tradeguard.adapters.sim.paper_broker import PaperBroker
from tradeguard.app.ports import BrokerGateway, OrderUpdateHandler, Store, TickHandler
from tradeguard.app.records import LoadedState, Record, StrategyRecord, TradeRecord
from tradeguard.app.runtime import AppRuntime, RuntimeOptions
from tradeguard.app.snapshots import Snapshots
from tradeguard.bootstrap.loop import run as run_loop
from tradeguard.core.broker import OrderRequest
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Side
from tradeguard.core.money import from_units

TICKS = 300_000  # replayed forwards and backwards (a continuous path) for SECONDS
SECONDS = 6.0
ROUNDS = 3
YIELD_EVERY = 256
READY = re.compile(rb"monitoring (\d+) trades")


class NullFeed:
    """A MarketFeed that is always connected and never ticks by itself."""

    connected = True
    reconnects = 0

    def set_handlers(self, on_tick: TickHandler, on_order: OrderUpdateHandler) -> None:
        self.on_tick = on_tick

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def subscribe(self, symbols: Sequence[tuple[str, str]]) -> None:
        return None

    async def unsubscribe(self, symbols: Sequence[tuple[str, str]]) -> None:
        return None

    def last_tick_at(self, symbol: str, exchange: str) -> int | None:
        return None

    def stale_symbols(self, now_ns: int, threshold_s: float) -> list[tuple[str, str]]:
        return []


class MemoryStore:
    """A Store that loads the seed and writes nothing (the engine-only baseline)."""

    degraded = False
    pending = 0

    def __init__(self, state: LoadedState) -> None:
        self.state = state

    async def load(self) -> LoadedState:
        return self.state

    async def commit(self, records: Sequence[Record]) -> bool:
        return True

    async def trade(self, trade_id: str) -> TradeRecord | None:
        return None

    async def history(self, account: str | None, limit: int) -> list[TradeRecord]:
        return []

    async def entry_trade(self, account: str, order_id: str) -> str | None:
        return None

    def refused_view(self) -> dict[str, Any]:
        return {"count": 0, "records": []}

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class RecoveryNumbers:
    trades: int
    store_open_s: float
    start_s: float
    summary: str
    process_s: float
    process_line: str
    engine: Rate
    persisted: Rate
    seconds: float
    all_rates: list[float]
    all_persisted: list[float]

    @property
    def round_costs(self) -> list[float]:
        """Per round: the persisted run against the engine-only run next to it (%)."""
        return [
            100.0 * (1.0 - p / e) for e, p in zip(self.all_rates, self.all_persisted, strict=True)
        ]

    @property
    def cost_pct(self) -> float:
        """The median of the paired per-round costs: each pair ran back to back, so a slow
        spell of the shared machine hits both sides of a pair, not one side of a best-of."""
        return statistics.median(self.round_costs)


def seed_records(work: Workload) -> tuple[list[StrategyRecord], list[Record]]:
    """The strategy rows and what `Monitor.add_trade` commits for every trade."""
    engine = RiskEngine()
    snapshots = Snapshots(engine)
    now = time.time_ns()
    strategies = []
    for name, config in work.strategies.items():
        book = engine.add_strategy(name, config)
        strategies.append(snapshots.strategy_record(book, now))
    records: list[Record] = list(strategies)
    for trade in work.make_trades():
        engine.add_trade(trade, now)
        records.append(snapshots.trade_record(trade, now))
    return strategies, records


def open_positions(work: Workload, paper: PaperBroker, market: SimMarket) -> None:
    """Every trade's entry, filled at the broker (positions and the order book)."""
    for name, price in zip(work.names, work.start_prices, strict=True):
        market.set_price(name, "NSE", price)
    for spec in work.trades:
        action = "BUY" if spec.side is Side.LONG else "SELL"
        paper.submit(
            OrderRequest(work.names[spec.symbol], "NSE", action, spec.quantity, "MIS", "e")
        )


async def seed_sqlite(url: str, records: list[Record]) -> None:
    store = await SqlStore.open(url)
    try:
        for i in range(0, len(records), 2_000):
            assert await store.commit(records[i : i + 2_000])
    finally:
        await store.close()


async def recovery_in_process(work: Workload, workdir: Path) -> tuple[float, float, str]:
    market = SimMarket()
    paper = PaperBroker(market)
    open_positions(work, paper, market)
    _, records = seed_records(work)
    url = f"sqlite:///{workdir / 'inproc.db'}"
    await seed_sqlite(url, records)
    gc.collect()
    began = time.perf_counter()
    store = await SqlStore.open(url)
    opened = time.perf_counter()
    runtime = AppRuntime(paper, NullFeed(), store, SystemClock())
    result = await runtime.start()
    started = time.perf_counter()
    await runtime.stop()
    await store.close()
    return opened - began, started - opened, result.summary


async def recovery_process(work: Workload, workdir: Path) -> tuple[float, str]:
    symbols = tuple(
        (name, "NSE", str(from_units(price)))
        for name, price in zip(work.names, work.start_prices, strict=True)
    )
    options = SimulatorOptions(walk=False, symbols=symbols, rate_limits=RateLimits(enabled=False))
    async with EmbeddedSimulator(options) as sim:
        open_positions(work, sim.broker, sim.market)
        data = workdir / "data"
        data.mkdir()
        _, records = seed_records(work)
        await seed_sqlite(f"sqlite:///{data / 'tradeguard.db'}", records)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
        env |= {
            "TRADEGUARD_OPENALGO_URL": sim.rest_url,
            "TRADEGUARD_OPENALGO_WS_URL": sim.ws_url,
            "TRADEGUARD_OPENALGO_API_KEY": sim.apikey,
            "TRADEGUARD_DATA_DIR": str(data),
            "TRADEGUARD_DEMO": "false",
            "PYTHONUNBUFFERED": "1",
        }
        log = workdir / "run.log"
        with log.open("wb") as out:
            began = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tradeguard", "run", env=env, stdout=out, stderr=out
            )
            try:
                line = await _wait_line(proc, log, began + 120)
                elapsed = time.perf_counter() - began
            finally:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
    return elapsed, line


async def _wait_line(proc: asyncio.subprocess.Process, log: Path, deadline: float) -> str:
    while time.perf_counter() < deadline:
        text = await asyncio.to_thread(log.read_bytes)
        for raw in text.splitlines():
            if READY.search(raw):
                return raw.decode(errors="replace").split(": ", 1)[-1]
        if proc.returncode is not None:
            raise RuntimeError(f"tradeguard exited {proc.returncode}:\n{text[-2000:]!r}")
        await asyncio.sleep(0.005)
    raise TimeoutError("no 'monitoring' line within 120 s")


@dataclass(slots=True)
class Rate:
    ticks_per_s: float
    flushes: int
    flushed_records: int
    degraded_seen: bool


async def tick_rate(
    work: Workload, workdir: Path, ticks: int, seconds: float, persist: bool
) -> Rate:
    """Ticks/s through Monitor.on_tick while the flush loop runs, over `seconds`."""
    market = SimMarket()
    paper = PaperBroker(market)
    open_positions(work, paper, market)
    _, records = seed_records(work)
    url = f"sqlite:///{workdir / 'rate.db'}"
    await seed_sqlite(url, records)
    store: Store = await SqlStore.open(url)
    options = RuntimeOptions(flush_interval=1.0)
    if not persist:  # the same state, read back from the same database, then no more I/O
        loaded = await store.load()
        await store.close()
        store = MemoryStore(loaded)
        options = RuntimeOptions(flush_interval=3_600.0)
    broker: BrokerGateway = paper
    runtime = AppRuntime(broker, NullFeed(), store, SystemClock(), options)
    await runtime.start()
    forward = work.ticks(0, ticks)
    paths = (forward, forward[::-1])
    monitor = runtime.monitor
    on_tick = monitor.on_tick
    flushed = 0
    flush = monitor.flush

    async def counting_flush() -> int:
        nonlocal flushed
        written = await flush()
        flushed += written
        return written

    monitor.flush = counting_flush  # type: ignore[method-assign]
    degraded = False
    done = 0
    gc.collect()
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        path = paths[(done // ticks) % 2]
        for start in range(0, ticks, YIELD_EVERY):
            for tick in path[start : start + YIELD_EVERY]:
                on_tick(tick)
            done += len(path[start : start + YIELD_EVERY])
            await asyncio.sleep(0)
            degraded = degraded or store.degraded
            if time.perf_counter() >= deadline:
                break
    elapsed = time.perf_counter() - began
    flushes = monitor.flushes
    await runtime.stop()
    await store.close()
    return Rate(done / elapsed, flushes, flushed, degraded)


async def run_async(ticks: int = TICKS, seconds: float = SECONDS) -> RecoveryNumbers:
    work = build(ticks)
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        root = Path(tmp)
        for name in ("a", "b"):
            (root / name).mkdir()
        open_s, start_s, summary = await recovery_in_process(work, root / "a")
        process_s, line = await recovery_process(work, root / "b")
        engines: list[Rate] = []
        persisted: list[Rate] = []
        sides = ((False, engines), (True, persisted))
        for round_ in range(ROUNDS):  # interleaved, A-B then B-A: a drift in the machine's
            for persist, results in sides if round_ % 2 == 0 else sides[::-1]:  # speed cancels
                workdir = root / f"rate-{round_}-{persist}"
                workdir.mkdir()
                results.append(await tick_rate(work, workdir, ticks, seconds, persist))
    return RecoveryNumbers(
        trades=len(work.trades),
        store_open_s=open_s,
        start_s=start_s,
        summary=summary,
        process_s=process_s,
        process_line=line,
        engine=max(engines, key=lambda r: r.ticks_per_s),
        persisted=max(persisted, key=lambda r: r.ticks_per_s),
        seconds=seconds,
        all_rates=[r.ticks_per_s for r in engines],
        all_persisted=[r.ticks_per_s for r in persisted],
    )


def run(ticks: int = TICKS, seconds: float = SECONDS) -> RecoveryNumbers:
    """Run every measure (logging quieted: the synthetic book nets LONG and SHORT trades on
    one symbol, so exits log position-mismatch warnings that are not the point here)."""
    logging.disable(logging.WARNING)
    try:
        return run_loop(run_async(ticks, seconds))
    finally:
        logging.disable(logging.NOTSET)


GOALS = {"recovery_s": 2.0, "cost_pct": 10.0}


def rows(n: RecoveryNumbers) -> list[tuple[str, str, str]]:
    def ok(passed: bool) -> str:
        return "met" if passed else "MISSED"

    recovered = n.store_open_s + n.start_s
    return [
        ("workload", f"{n.trades:,} ACTIVE trades, 1,000 symbols, SQLite (WAL)", ""),
        (
            "recovery in-process (open store + AppRuntime.start)",
            f"{recovered:.2f} s (open {n.store_open_s:.2f} s, start {n.start_s:.2f} s)",
            f"goal < {GOALS['recovery_s']:.0f} s: {ok(recovered < GOALS['recovery_s'])}; "
            f"{n.summary}",
        ),
        (
            "recovery as a process (spawn -> 'monitoring' line)",
            f"{n.process_s:.2f} s",
            f"interpreter start and imports included; {n.process_line}",
        ),
        (
            "tick rate, engine only",
            f"{n.engine.ticks_per_s:,.0f} ticks/s",
            f"best of {', '.join(f'{r:,.0f}' for r in n.all_rates)} ({n.seconds:.0f} s each)",
        ),
        (
            "tick rate, SQLite + flush every 1 s",
            f"{n.persisted.ticks_per_s:,.0f} ticks/s",
            f"best of {', '.join(f'{r:,.0f}' for r in n.all_persisted)}; "
            f"{n.persisted.flushes} flushes, {n.persisted.flushed_records:,} records; "
            f"store degraded during the run: {'yes' if n.persisted.degraded_seen else 'no'}",
        ),
        (
            "persistence cost",
            f"{n.cost_pct:.1f} %",
            f"median of the paired rounds ({', '.join(f'{c:.1f} %' for c in n.round_costs)}); "
            f"goal < {GOALS['cost_pct']:.0f} %: {ok(n.cost_pct < GOALS['cost_pct'])}",
        ),
    ]


NOTES = """\
Where the time goes (profiled on this machine; single runs swing by 10-20 % while other jobs
share the 2 CPUs, hence interleaved rounds and the median of the paired costs):

- **Recovery** (was 3.3-3.6 s on this machine, 1.3-1.5 s on the faster one before): rebuilding
  10,000 trades dominated, in `Fraction` arithmetic. Levels are now integer math wherever the
  result is exact (a Fraction only when a percent does not divide evenly), the rules are
  validated once per trade instead of twice (stop and target computed once), a strategy's
  portfolio rules are evaluated once after all its trades are in instead of after each, the
  broker's position and order books are read while the database loads, and `TradeRecord` is
  no longer a frozen dataclass (a frozen one pays `object.__setattr__` per field: ~10 us per
  record against ~1 us). The process figure adds interpreter start, imports and the 10,000-order
  order book over REST.
- **Persistence cost**: the flush writes a narrow `TradeProgress` (best price, levels, last
  price) for an ACTIVE trade whose state, quantity and rules are as last written, as one
  `UPDATE .. FROM (VALUES ..)` statement per 500 rows on SQLite (~15 us a row on the database
  thread, against ~85 us for the full upsert it replaced). Full snapshots are still written
  for everything else (and lifecycle changes are written through, as before). Since the
  2026-11-25 afternoon runs every write goes through one kept driver connection with SQL built
  once (`adapters/db/writer.py`) instead of a pooled SQLAlchemy Core connection per
  transaction.
- **Defect found and fixed**: CPython hands its interpreter lock to a waiting thread only after
  the holder kept it a whole switch interval, and a holder that releases and retakes it
  voluntarily restarts that wait. A saturated event loop does exactly that (each iteration polls
  its sockets), so the database thread, which needs the lock back after every SQLite call,
  could wait seconds: a 1,000-row flush took 2.8 s and the store turned "degraded" on a healthy
  database, so exit intents were queued instead of committed before their orders. The loop now
  steps aside for 0.2 ms when the database thread has had work for 2 ms without a heartbeat
  (`adapters/db/handoff.py`); the run above shows no degraded store.
- **Second defect of the same kind (found 2026-11-25, stop 9)**: the WAL checkpoint thread
  woke by itself every second and then waited for the interpreter lock, which the saturated
  loop of this benchmark never handed over: no checkpoint ran during the run, and the loop
  paid a futex wake-up for the waiting thread on almost every iteration (~2,200 context
  switches a second on that thread). That alone was 4-5 % of the tick rate, and the whole
  persistence cost read 9.2-10.6 % on the Intel machine. The event loop now times the
  checkpoints and arms a `LockHandoff` for that thread (`adapters/db/checkpoint.py`); the cost
  went to 2.8-4.3 % in the same hour.
- **Noise on 2026-11-25 afternoon**: the VM's speed swung by up to 2x within seconds (the
  same engine-only round gave 280,000 to 812,000 ticks/s), so single paired costs ranged from
  -87 % to +64 % and the median of three from -38 % to +28 %. A/B in that period against the
  code of the morning runs (before `adapters/db/writer.py`): 18.9 % and 12.2 % for the old code,
  -38.3 % and -4.9 % for the new, so no sign of a regression, only noise. The calmer morning
  runs gave 4.9-7.4 %. Rounds now alternate which side runs first, so a steady drift favours
  neither.
- The engine-only side starts from the same trades read back from the same SQLite seed (objects
  born from database rows, as in the service; seeding it from the generator's objects made it
  look ~8 % faster than the service could be).
"""
