"""Benchmarks: the dashboard's chart history (app.charts.ChartBook) with 1,000 open trades.

`python -m benchmarks.charts` fills every trade's series to its capacity (one distinct price a
second for an hour of market time, so each series has downsampled four times) and prints: the
memory the series hold (sys.getsizeof of each series and its two arrays, plus the dict), the
time of one `sample()` of all open trades and strategies (p50 / p99 / max over the run), and
the time to build one trade's series view (what GET /ui/api/trades/{id}/series returns).
"""

from __future__ import annotations

import statistics
import sys
import time

from tradeguard.app.charts import ChartBook
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Instrument, Side, Tick
from tradeguard.core.money import to_units
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

TRADES = 1_000
SYMBOLS = 200
SECONDS = 3600
S = 1_000_000_000


def build() -> RiskEngine:
    engine = RiskEngine()
    for s in range(10):
        engine.add_strategy(f"acct:s{s}", StrategyRiskConfig())
    for i in range(TRADES):
        trade = Trade(
            trade_id=f"T{i:05d}",
            strategy_id=f"acct:s{i % 10}",
            instrument=Instrument(f"SYM{i % SYMBOLS}", "NSE"),
            side=Side.LONG if i % 2 else Side.SHORT,
            quantity=10,
            entry_price=to_units("1000"),
            entered_at=0,
            account="acct",
        )
        engine.add_trade(trade, 0)
    return engine


def main() -> None:
    engine = build()
    book = ChartBook(engine)
    timings: list[float] = []
    base = to_units("1000")
    for second in range(1, SECONDS + 1):
        now = second * S
        for s in range(SYMBOLS):
            price = base + ((second * 7 + s) % 400 - 200) * 500
            engine.on_tick(Tick(f"SYM{s}", "NSE", price, now), now)
        started = time.perf_counter_ns()
        book.sample(now)
        timings.append((time.perf_counter_ns() - started) / 1_000)
    held = sys.getsizeof(book.trades) + sum(
        sys.getsizeof(series) + sys.getsizeof(series._at) + sys.getsizeof(series._values)
        for series in book.trades.values()
    )
    points = sum(len(series) for series in book.trades.values())
    started = time.perf_counter_ns()
    for i in range(100):
        book.trade_series("acct", f"T{i:05d}")
    view_us = (time.perf_counter_ns() - started) / 100 / 1_000
    timings.sort()
    p99 = timings[int(len(timings) * 0.99)]
    print(f"{TRADES:,} open trades, {SYMBOLS} symbols, {SECONDS:,} one-second samples")
    print(f"points held: {points:,} (max {max(len(s) for s in book.trades.values())} per trade)")
    print(f"memory held by the trade series: {held / 1e6:.2f} MB")
    print(
        f"sample() of all trades and strategies: p50 {statistics.median(timings):,.0f} us, "
        f"p99 {p99:,.0f} us, max {timings[-1]:,.0f} us"
    )
    print(f"one trade's series view: {view_us:,.0f} us")


if __name__ == "__main__":
    main()
