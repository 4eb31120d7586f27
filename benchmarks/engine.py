"""Benchmarks: RiskEngine throughput, per-tick latency and memory on the synthetic workload
(workload.py), plus the naive baseline (naive.py) on a prefix of the same ticks.

Throughput and latency are separate passes over fresh engines (the per-call timer would
otherwise slow the throughput pass). Exits are filled at once (engine.close_trade at the tick
price, as the replay does), inside the throughput timing but outside the per-call latency.
Ticks are built from the compact arrays in chunks outside the timed region.
"""

from __future__ import annotations

import gc
import resource
import time
from array import array
from dataclasses import dataclass

from benchmarks.naive import NaiveEngine
from benchmarks.workload import Workload, build
from tradeguard.core.decisions import Decisions
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Tick
from tradeguard.core.trade import Trade

N_TICKS = 1_000_000
NAIVE_TICKS = 2_000
CHUNK = 20_000


@dataclass(slots=True)
class EngineResult:
    ticks: int
    trades: int
    symbols: int
    strategies: int
    setup_s: float
    ticks_per_s: float
    p50_ns: int
    p99_ns: int
    p999_ns: int
    max_ns: int
    timer_ns: int
    exits: int
    level_changes: int
    rss_before_mb: float
    rss_peak_mb: float
    rss_end_mb: float
    naive_ticks: int
    naive_ticks_per_s: float
    engine_prefix_ticks_per_s: float

    @property
    def naive_ratio(self) -> float:
        return self.ticks_per_s / self.naive_ticks_per_s


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def new_engine(work: Workload) -> tuple[RiskEngine, float]:
    start = time.perf_counter()
    engine = RiskEngine()
    for name, config in work.strategies.items():
        engine.add_strategy(name, config)
    for trade in work.make_trades():
        engine.add_trade(trade, trade.entered_at)
    return engine, time.perf_counter() - start


def _fill(engine: RiskEngine, decisions: Decisions, counts: list[int]) -> None:
    counts[1] += len(decisions.levels)
    pending = list(decisions.exits)
    while pending:
        exit_ = pending.pop()
        counts[0] += 1
        price = exit_.price if exit_.price is not None else engine.trade(exit_.trade_id).entry_price
        more = engine.close_trade(exit_.trade_id, price, exit_.at)
        pending.extend(more.exits)
        counts[1] += len(more.levels)


def throughput(work: Workload, n: int) -> tuple[float, list[int], float]:
    engine, setup = new_engine(work)
    counts = [0, 0]
    elapsed = 0
    gc.collect()
    gc.disable()
    try:
        for start in range(0, n, CHUNK):
            ticks = work.ticks(start, min(n, start + CHUNK))
            on_tick = engine.on_tick
            began = time.perf_counter_ns()
            for tick in ticks:
                decisions = on_tick(tick, tick.exchange_ts)
                if decisions is not None:
                    _fill(engine, decisions, counts)
            elapsed += time.perf_counter_ns() - began
    finally:
        gc.enable()
    return n / (elapsed / 1e9), counts, setup


def latency(work: Workload, n: int) -> array:  # type: ignore[type-arg]
    engine, _ = new_engine(work)
    samples = array("q", bytes(8 * n))
    counts = [0, 0]
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for start in range(0, n, CHUNK):
            ticks = work.ticks(start, min(n, start + CHUNK))
            on_tick = engine.on_tick
            for i, tick in enumerate(ticks, start):
                began = clock()
                decisions = on_tick(tick, tick.exchange_ts)
                samples[i] = clock() - began
                if decisions is not None:
                    _fill(engine, decisions, counts)
    finally:
        gc.enable()
    return samples


def timer_overhead() -> int:
    clock = time.perf_counter_ns
    best = []
    for _ in range(5):
        began = clock()
        for _ in range(100_000):
            clock()
        best.append((clock() - began) // 100_000)
    return min(best)


def naive(work: Workload, n: int) -> float:
    trades: list[Trade] = work.make_trades()
    engine = NaiveEngine(work.strategies, trades)
    ticks: list[Tick] = work.ticks(0, n)
    began = time.perf_counter_ns()
    for tick in ticks:
        engine.on_tick(tick, tick.exchange_ts)
    return n / ((time.perf_counter_ns() - began) / 1e9)


def run(n_ticks: int = N_TICKS, naive_ticks: int = NAIVE_TICKS) -> EngineResult:
    work = build(n_ticks)
    rss_before = rss_mb()
    rate, counts, setup = throughput(work, n_ticks)
    rss_engine = rss_mb()  # peak with the workload and one full engine (before latency arrays)
    samples = sorted(latency(work, n_ticks))
    prefix_rate, _, _ = throughput(work, naive_ticks)
    naive_rate = naive(work, naive_ticks)
    return EngineResult(
        ticks=n_ticks,
        trades=len(work.trades),
        symbols=len(work.names),
        strategies=len(work.strategies),
        setup_s=setup,
        ticks_per_s=rate,
        p50_ns=samples[len(samples) // 2],
        p99_ns=samples[len(samples) * 99 // 100],
        p999_ns=samples[len(samples) * 999 // 1000],
        max_ns=samples[-1],
        timer_ns=timer_overhead(),
        exits=counts[0],
        level_changes=counts[1],
        rss_before_mb=rss_before,
        rss_peak_mb=rss_engine,
        rss_end_mb=rss_mb(),
        naive_ticks=naive_ticks,
        naive_ticks_per_s=naive_rate,
        engine_prefix_ticks_per_s=prefix_rate,
    )
