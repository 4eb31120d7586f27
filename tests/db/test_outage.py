"""Database outages on real databases: writes made while the database is locked, gone or
unreachable return False at once, queue in order, and land in order when it returns.

SQLite: an exclusive lock held by another connection, or the file renamed away. PostgreSQL:
an in-test TCP proxy between the store and the server, cut and restored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.db import factories as f
from tests.db.conftest import Database, open_store
from tests.db.proxy import TcpProxy
from tests.helpers import eventually, sqlite_write_lock
from tradeguard.adapters.db.connect import create_engine
from tradeguard.adapters.db.store import SqlStore, is_outage
from tradeguard.app.records import AuditRecord, TradeRecord

# No retry once the first write failed: no chunk is in flight, the queue is all there is, and
# what a test sees of it does not race the worker. close() still makes one last attempt.
NO_RETRY = {"retry_initial": 60.0, "retry_max": 60.0}


def versions(n: int) -> list[TradeRecord]:
    return [f.trade(last_price=1_250_0000 + i, updated_at=f.T0 + i) for i in range(n)]


async def write_during_outage(store: SqlStore) -> tuple[list[TradeRecord], list[AuditRecord]]:
    """Commit v0 + a0 while healthy, then v1..v3 + a1..a3 (and a strategy) during an outage
    the caller has already started; check each is refused at once and queued in order."""
    v = versions(4)
    audits = [f.audit(i) for i in range(4)]
    started = time.monotonic()
    assert not await store.commit([v[1], audits[1]])
    assert store.degraded
    assert store.pending == 2
    assert not await store.commit([v[2], audits[2], f.strategy()])
    assert not await store.commit([v[3], audits[3]])
    assert store.pending == 7
    assert time.monotonic() - started < 2.0
    assert await store.trade("t-1") == v[3]  # reads see the queued snapshots
    return v, audits


async def assert_replayed(store: SqlStore, database: Database, v: list[TradeRecord]) -> None:
    await eventually(lambda: not store.degraded and store.pending == 0, timeout=10)
    assert await store.commit([f.audit(4)])
    fresh = await open_store(database.url)
    try:
        assert await fresh.trade("t-1") == v[3]
        assert (await fresh.load()).strategies == [f.strategy()]
        assert [e.action for e in await fresh.audit_entries()] == [f"action-{i}" for i in range(5)]
    finally:
        await fresh.close()


@pytest.mark.asyncio
async def test_sqlite_lock_queues_then_replays_in_order(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url)
    try:
        assert await store.commit([versions(1)[0], f.audit(0)])
        with caplog.at_level(logging.WARNING, "tradeguard.db"), sqlite_write_lock(sqlite_db.path):
            v, _ = await write_during_outage(store)
        await assert_replayed(store, sqlite_db, v)
    finally:
        await store.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("database degraded" in m for m in messages)
    assert any("database recovered" in m for m in messages)


@pytest.mark.asyncio
async def test_sqlite_file_renamed_away_is_an_outage_not_a_fresh_database(
    sqlite_db: Database,
) -> None:
    assert sqlite_db.path is not None
    away = sqlite_db.path.with_name("moved.db")
    store = await open_store(sqlite_db.url)
    try:
        assert await store.commit([versions(1)[0], f.audit(0)])
        sqlite_db.path.rename(away)
        v, _ = await write_during_outage(store)
        assert not sqlite_db.path.exists()  # no empty database was created in its place
        away.rename(sqlite_db.path)
        await assert_replayed(store, sqlite_db, v)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_slow_database_does_not_hold_the_caller(sqlite_db: Database) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url, busy_timeout_ms=3_000, commit_timeout=0.2)
    try:
        with sqlite_write_lock(sqlite_db.path):
            started = time.monotonic()
            assert not await store.commit([f.trade(), f.audit(1)])
            assert time.monotonic() - started < 1.0
            assert store.degraded
            assert not await store.commit([f.audit(2)])
            assert store.pending == 3
        await eventually(lambda: not store.degraded and store.pending == 0, timeout=10)
        assert [e.action for e in await store.audit_entries()] == ["action-1", "action-2"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_overflow_keeps_newest_snapshots_and_logs_dropped_audit(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url, max_pending=10, **NO_RETRY)
    v = versions(30)
    try:
        with caplog.at_level(logging.WARNING, "tradeguard.db"), sqlite_write_lock(sqlite_db.path):
            for i in range(30):
                other = f.trade("t-2", last_price=i, updated_at=f.T0 + i)
                assert not await store.commit([v[i], other, f.audit(i)])
                assert store.pending <= 10
            assert await store.trade("t-1") == v[29]
    finally:
        await store.close()
    reopened = await open_store(sqlite_db.url)
    try:
        assert await reopened.trade("t-1") == v[29]
        assert (await reopened.trade("t-2") or f.trade()).last_price == 29
        kept = [e.action for e in await reopened.audit_entries()]
    finally:
        await reopened.close()
    dropped = [r for r in caplog.records if "audit entry dropped" in r.getMessage()]
    assert all(r.levelno == logging.CRITICAL for r in dropped)
    assert len(kept) + len(dropped) == 30
    assert kept == [f"action-{i}" for i in range(30 - len(kept), 30)]  # the newest, in order
    assert 0 < len(kept) < 10


@pytest.mark.asyncio
async def test_overflow_of_snapshots_alone_drops_no_audit(sqlite_db: Database) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url, max_pending=10)
    try:
        with sqlite_write_lock(sqlite_db.path):
            for i in range(50):
                assert not await store.commit([f.trade(f"t-{i % 3}", last_price=i)])
            assert not await store.commit([f.audit(1)])
            with store._worker.cond:  # the queue keeps its limit; a retry may hold one more chunk
                assert len(store._worker.queue) <= 10
                assert store.pending <= 20
        await eventually(lambda: not store.degraded and store.pending == 0, timeout=10)
        assert [(await store.trade(f"t-{k}") or f.trade()).last_price for k in range(3)] == [
            48,
            49,
            47,
        ]
        assert [e.action for e in await store.audit_entries()] == ["action-1"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_refused_record_during_replay_is_isolated_and_the_rest_land(
    sqlite_db: Database,
) -> None:
    """Only the refused record is left out: the audit entry that came with it still lands."""
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url)
    try:
        with sqlite_write_lock(sqlite_db.path):
            assert not await store.commit([f.trade("t-a"), f.audit(1)])
            assert not await store.commit([f.trade("t-bad", symbol=None), f.audit(2)])
            assert not await store.commit([f.trade("t-b"), f.audit(3)])
        await eventually(lambda: not store.degraded and store.pending == 0, timeout=10)
        assert await store.trade("t-a") == f.trade("t-a")
        assert await store.trade("t-b") == f.trade("t-b")
        assert await store.trade("t-bad") is None
        entries = await store.audit_entries()
        assert [e.action for e in entries] == ["action-1", "action-2", "action-3", "record_refused"]
        assert entries[-1].subject == "trade:t-bad"
        assert store.refused_view()["count"] == 1
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_close_flushes_the_queue_without_waiting_for_the_backoff(
    sqlite_db: Database,
) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url, retry_initial=60.0, retry_max=60.0)
    with sqlite_write_lock(sqlite_db.path):
        assert not await store.commit([f.trade(), f.audit(1)])
    assert store.pending == 2  # the next retry is a minute away
    await store.close()
    fresh = await open_store(sqlite_db.url)
    try:
        assert await fresh.trade("t-1") == f.trade()
    finally:
        await fresh.close()


@pytest.mark.asyncio
async def test_close_while_down_gives_up_quickly_and_says_so(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url)
    with caplog.at_level(logging.WARNING, "tradeguard.db"), sqlite_write_lock(sqlite_db.path):
        assert not await store.commit([f.trade(), f.audit(1)])
        started = time.monotonic()
        await store.close()
        assert time.monotonic() - started < 2.0
    assert any("2 records not written" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
@pytest.mark.postgres
async def test_postgres_link_cut_queues_then_replays_in_order(pg_database: Database) -> None:
    database = pg_database
    proxy = await TcpProxy(database.url.host or "127.0.0.1", database.url.port or 5432).start()
    via_proxy = replace(database, url=database.with_address("127.0.0.1", proxy.port))
    store = await open_store(via_proxy.url)
    try:
        assert await store.commit([versions(1)[0], f.audit(0)])
        proxy.cut()
        v, _ = await write_during_outage(store)
        proxy.restore()
        await assert_replayed(store, database, v)
    finally:
        await store.close()
        await proxy.close()


@pytest.mark.asyncio
async def test_reads_during_an_outage_include_the_queued_snapshots(sqlite_db: Database) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url)
    try:
        assert await store.commit([f.trade("t-1"), f.trade("t-2"), f.strategy()])
        with sqlite_write_lock(sqlite_db.path):  # readers still read in WAL mode
            closed = f.trade("t-1", state="CLOSED", closed_at=f.T0 + 100)
            halted = f.strategy(state="ACTIVE", halt_reason=None)
            assert not await store.commit([closed, halted, f.trade("t-3"), f.audit(1)])
            loaded = await store.load()
            assert sorted(t.trade_id for t in loaded.trades) == ["t-2", "t-3"]
            assert loaded.strategies == [halted]
            assert await store.history(None, 10) == [closed]
            assert await store.history("other-account", 10) == []
            assert [e.action for e in await store.audit_entries()] == ["action-1"]
    finally:
        await store.close()


def test_real_database_errors_are_classified(tmp_path: Path) -> None:
    """Disk full, locked and missing-file errors are outages (queue and retry); constraint
    errors are refusals (retrying cannot help)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'small.db'}", busy_timeout_ms=10)
    errors: dict[str, BaseException] = {}
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA max_page_count = 3")  # the "disk" is full
            with pytest.raises(DBAPIError) as full:
                connection.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 100_000})
            errors["full"] = full.value
            connection.rollback()
            with pytest.raises(IntegrityError) as refused:
                connection.execute(text("INSERT INTO t (v) VALUES (NULL)"))
            errors["refused"] = refused.value
        with sqlite_write_lock(tmp_path / "small.db"), engine.begin() as connection:
            with pytest.raises(DBAPIError) as locked:
                connection.execute(text("INSERT INTO t (v) VALUES ('y')"))
            errors["locked"] = locked.value
    finally:
        engine.dispose()
    assert "full" in str(errors["full"])
    assert "locked" in str(errors["locked"])
    assert is_outage(errors["full"])
    assert is_outage(errors["locked"])
    assert not is_outage(errors["refused"])


@pytest.mark.asyncio
async def test_a_busy_database_that_keeps_committing_is_slow_not_down(
    sqlite_db: Database,
) -> None:
    """A write queued behind others waits while the worker makes progress (so an exit intent
    still lands before its order); only a step with no progress at all means degraded.

    Each write step is one small batch (30 rows: one commit, well below the 0.25 s step even on
    a loaded machine), and there are enough of them that the write behind waits several steps;
    on a machine too fast for that, the round is repeated with four times the work."""
    step = 0.25
    store = await open_store(sqlite_db.url, commit_timeout=step, slow_limit=120.0, chunk_records=30)
    try:
        written: list[str] = []
        for round_, batches in enumerate((40, 160, 640, 2560), start=1):
            ahead = [
                asyncio.ensure_future(
                    store.commit([f.trade(f"r{round_}-{n}-{i}") for i in range(30)])
                )
                for n in range(batches)
            ]
            started = time.monotonic()
            # a task started after them: tasks start in order, so it queues behind them all
            behind = await asyncio.ensure_future(store.commit([f.audit(round_)]))
            waited = time.monotonic() - started
            assert behind is True
            assert not store.degraded
            assert all(await asyncio.gather(*ahead))
            written.append(f"action-{round_}")
            if waited > 2 * step:  # it waited through steps that each made progress
                break
        else:
            pytest.fail("the writes ahead never took two steps: nothing was tested")
        assert [e.action for e in await store.audit_entries()] == written
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_queued_progress_is_seen_by_reads_and_compacted_in_order(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url, max_pending=6, **NO_RETRY)
    expected = {
        "t-1": f.progress("t-1", 3).apply(f.trade("t-1", quantity=50)),
        "t-2": f.progress("t-2", 2).apply(f.trade("t-2")),
    }
    try:
        assert await store.commit([f.trade("t-1"), f.trade("t-2")])
        with caplog.at_level(logging.WARNING, "tradeguard.db"), sqlite_write_lock(sqlite_db.path):
            assert not await store.commit([f.progress("t-1", 1), f.progress("t-2", 1)])
            assert not await store.commit([f.trade("t-1", quantity=50), f.progress("t-2", 2)])
            assert not await store.commit([f.progress("t-1", 3)])
            assert store.pending == 5
            # over the limit: progress superseded by newer progress or by a newer full
            # snapshot of its trade is dropped; what a read sees does not change
            assert not await store.commit([f.audit(1), f.audit(2)])
            assert store.pending == 5
            assert any("dropped 2 superseded snapshots" in r.getMessage() for r in caplog.records)
            assert {t.trade_id: t for t in (await store.load()).trades} == expected
            assert await store.trade("t-1") == expected["t-1"]
            assert await store.trade("t-2") == expected["t-2"]
    finally:
        await store.close()
    reopened = await open_store(sqlite_db.url)
    try:
        assert {t.trade_id: t for t in (await reopened.load()).trades} == expected
        assert [e.action for e in await reopened.audit_entries()] == ["action-1", "action-2"]
    finally:
        await reopened.close()
