"""The store checkpoints its SQLite WAL on its own thread, never inside a commit: its
connections have automatic checkpoints off, and what they commit reaches the main database
file within a checkpoint interval, also while the event loop is saturated."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.db import factories as f
from tests.db.conftest import Database, open_store
from tests.helpers import eventually, saturated_loop


def _trades_in_main_file(db: Path, tmp: Path) -> int:
    """Trades readable from the main database file alone (a copy without its -wal file)."""
    copy = tmp / "main-only.db"
    shutil.copyfile(db, copy)
    connection = sqlite3.connect(copy)
    try:
        return int(connection.execute("SELECT count(*) FROM trades").fetchone()[0])
    except sqlite3.OperationalError:  # not even the schema is in the main file yet
        return -1
    finally:
        connection.close()


@pytest.mark.asyncio
async def test_commits_stay_in_the_wal_until_the_checkpointer_runs(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url, checkpoint_interval=3_600.0)
    try:
        with store._engine.connect() as connection:
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        assert store._checkpoints is not None
        assert store._checkpoints.checkpoint()  # the schema is in the main file
        assert await store.commit([f.trade(f"t-{i}") for i in range(50)])
        assert _trades_in_main_file(sqlite_db.path, tmp_path) == 0  # no commit checkpointed
        assert store._checkpoints.checkpoint()
        assert _trades_in_main_file(sqlite_db.path, tmp_path) == 50
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_checkpoint_thread_runs_every_interval(sqlite_db: Database) -> None:
    store = await open_store(sqlite_db.url, checkpoint_interval=0.01)
    try:
        assert store._checkpoints is not None
        checkpoints = store._checkpoints
        await eventually(lambda: checkpoints.runs >= 3, message="three checkpoints")
        assert checkpoints.failures == 0
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_checkpoints_run_while_the_event_loop_is_saturated(sqlite_db: Database) -> None:
    """A loop that polls its sockets every ~0.2 ms never lets go of the interpreter lock for
    long: a thread that woke by itself to checkpoint used to wait for the lock for as long as
    the saturation lasted (no checkpoint ran). The loop's timer hands it the lock."""
    store = await open_store(sqlite_db.url, checkpoint_interval=0.01)
    assert store._checkpoints is not None
    checkpoints = store._checkpoints
    try:
        async with saturated_loop():
            before = checkpoints.runs
            await eventually(lambda: checkpoints.runs >= before + 5, message="five checkpoints")
            assert checkpoints.failures == 0
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_closing_the_store_stops_the_checkpoint_timer(sqlite_db: Database) -> None:
    store = await open_store(sqlite_db.url, checkpoint_interval=0.01)
    assert store._checkpoints is not None
    checkpoints = store._checkpoints
    await eventually(lambda: checkpoints.runs >= 1, message="a checkpoint")
    await store.close()
    assert checkpoints._timer is None
    assert checkpoints.handoff._handle is None
    assert not checkpoints._thread.is_alive()


@pytest.mark.asyncio
async def test_postgres_has_no_checkpoint_thread(pg_database: Database) -> None:
    store = await open_store(pg_database.url)
    try:
        assert store._checkpoints is None
        assert await store.commit([f.trade()])
    finally:
        await store.close()
