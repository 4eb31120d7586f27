"""Benchmarks: the cost of the write-ahead journal on an exit (adapters/db/journal.py).

An exit intent is one full trade snapshot and one audit entry committed before the order goes
out. Timed, on a temporary directory of this machine's disk:

1. `Journal.append` alone: encode both records, one write, one fsync (the floor);
2. `SqlStore.commit` of an exit intent with the database healthy (SQLite, written through:
   the journal is not touched), for comparison;
3. `SqlStore.commit` of an exit intent during an outage (the SQLite file's write lock held by
   another connection, the store already degraded): the records go to the journal (fsync on
   the journal's thread) and the commit returns True. This is what an exit waits for before
   its order while the database is down.

Each figure is the p50 / p99 / max of N commits, one at a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tradeguard.adapters.db.journal import Journal
from tradeguard.adapters.db.store import SqlStore
from tradeguard.app.records import AuditRecord, TradeRecord

N = 1000


@dataclass(frozen=True)
class Timings:
    p50_us: float
    p99_us: float
    max_us: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Timings:
        ordered = sorted(samples_ns)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(statistics.median(ordered) / 1e3, p99 / 1e3, ordered[-1] / 1e3)

    def text(self) -> str:
        return f"p50 {self.p50_us:,.0f} us, p99 {self.p99_us:,.0f} us, max {self.max_us:,.0f} us"


@dataclass(frozen=True)
class JournalResult:
    append: Timings
    healthy: Timings
    outage: Timings
    degraded: bool


def intent(n: int) -> list[TradeRecord | AuditRecord]:
    trade = TradeRecord(
        trade_id=f"T{n:012d}",
        account="bench",
        strategy_id="bench:s1",
        entry_order_id=f"E{n}",
        symbol="SBIN",
        exchange="NSE",
        product="MIS",
        side="LONG",
        entry_price=800_0000,
        quantity=10,
        tick_size="0.05",
        lot_size=1,
        rules={"stop_loss": {"type": "POINTS", "value": "2"}},
        state="EXITING",
        entered_at=1_765_000_000_000_000_000,
        best_price=801_0000,
        stop_loss=798_0000,
        stop_reason="STOP_LOSS",
        target=None,
        trailing_level=None,
        breakeven_level=None,
        last_price=797_5000,
    )
    trade = replace(trade, exit_reason="STOP_LOSS", exit_trigger=798_0000, exit_attempt=1)
    detail = {"reason": "STOP_LOSS", "trigger": 798_0000, "tick_price": 797_5000}
    return [trade, AuditRecord(1_765_000_000_000_000_000 + n, "system", "exit_intent", "t", detail)]


def _append(directory: Path) -> Timings:
    journal = Journal(directory / "append.journal")
    journal.open()
    samples = []
    try:
        for n in range(N):
            records = intent(n)
            started = time.perf_counter_ns()
            assert journal.append(n + 1, records)
            samples.append(time.perf_counter_ns() - started)
    finally:
        journal.close()
    return Timings.of(samples)


async def _commits(store: SqlStore, first: int) -> Timings:
    samples = []
    for n in range(first, first + N):
        records = intent(n)
        started = time.perf_counter_ns()
        assert await store.commit(records)
        samples.append(time.perf_counter_ns() - started)
    return Timings.of(samples)


async def _store(directory: Path) -> tuple[Timings, Timings, bool]:
    db = directory / "bench.db"
    store = await SqlStore.open(
        f"sqlite:///{db}", journal=directory / "tradeguard.journal", retry_initial=60.0
    )
    try:
        healthy = await _commits(store, 0)
        lock = sqlite3.connect(db, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            await store.commit(intent(N))  # the first write notices the lock: degraded
            degraded = store.degraded
            outage = await _commits(store, N + 1)
            lock.execute("COMMIT")
        finally:
            lock.close()
    finally:
        await store.close()
    return healthy, outage, degraded


def run() -> JournalResult:
    with tempfile.TemporaryDirectory(prefix="tg-journal-bench-") as tmp:
        directory = Path(tmp)
        append = _append(directory)
        healthy, outage, degraded = asyncio.run(_store(directory))
    return JournalResult(append, healthy, outage, degraded)


def rows(result: JournalResult) -> list[tuple[str, str, str]]:
    return [
        ("journal append + fsync (exit intent)", result.append.text(), f"{N} appends"),
        ("exit intent commit, database healthy", result.healthy.text(), "SQLite write-through"),
        (
            "exit intent commit, database locked",
            result.outage.text(),
            f"journaled (fsync) and acknowledged; store degraded: "
            f"{'yes' if result.degraded else 'NO'}",
        ),
    ]


NOTES = """\
The journal is written only while the database cannot take a write; with a healthy database an
exit pays nothing for it (its commit also upserts one `journal_marks` row in the same
transaction: the newest journaled commit the database holds, so a replay never writes an audit
entry twice). The fsync is the cost: it is the disk's flush latency, done on the journal's own
thread, so the event loop keeps handling ticks meanwhile; only the exit whose intent it is
waits for it before its order goes out. The first row appends back to back (each fsync
waits for the file system's journal commit of the one before); the commits of the third row
come one at a time through the store, with the event loop's work in between, and their fsync
is usually cheaper. Both vary with the disk and with whatever else writes to it: these runs
shared a 2-CPU VM (load average 8-12) with other builds.
"""
