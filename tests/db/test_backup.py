"""Tests: the start-up database check, the online backups and the restore from the newest good
backup, on real SQLite files whose bytes are overwritten (adapters/db/integrity.py,
backup.py, startup.py); PostgreSQL's connection and schema-revision check."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.app.clock import ManualClock
from tests.app.fakes import Alerts
from tests.db import factories
from tests.db.conftest import Database, open_store
from tests.helpers import eventually
from tradeguard.adapters.clock import SystemClock
from tradeguard.adapters.db.backup import (
    BackupLoop,
    NoGoodBackup,
    backups,
    take_backup,
)
from tradeguard.adapters.db.connect import create_engine
from tradeguard.adapters.db.integrity import (
    DatabaseLocked,
    DatabaseUnusable,
    check_postgres,
    check_sqlite,
)
from tradeguard.adapters.db.journal import Journal, journal_path
from tradeguard.adapters.db.startup import check_database
from tradeguard.app.records import Record
from tradeguard.config import SettingsError, load_settings

NS = 1_000_000_000
T0 = 1_765_000_000 * NS


def corrupt(path: Path, offset: int | None = None, size: int = 4096) -> None:
    """Overwrite real bytes of the file in place: by default its second page on (the root
    pages of the tables), with a pattern no valid b-tree page has."""
    length = path.stat().st_size
    start = 4096 if offset is None else offset
    with path.open("r+b") as handle:
        handle.seek(start)
        handle.write(bytes([0xA5]) * min(size, length - start))
        handle.flush()
        os.fsync(handle.fileno())


async def seeded(db: Database, *trade_ids: str) -> None:
    store = await open_store(db.url)
    try:
        records: list[Record] = [factories.strategy()]
        records += [factories.trade(t) for t in trade_ids]
        assert await store.commit(records)
    finally:
        await store.close()


def trade_ids(path: Path) -> list[str]:
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in db.execute("SELECT trade_id FROM trades"))
    finally:
        db.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.asyncio
async def test_a_backup_is_a_private_checked_copy_and_only_the_newest_n_are_kept(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.path is not None
    await seeded(sqlite_db, "t-1", "t-2")
    directory = tmp_path / "backups"
    taken = [take_backup(sqlite_db.path, directory, T0 + i * NS, keep=3) for i in range(5)]
    kept = backups(directory)
    assert [b.path for b in kept] == [b.path for b in reversed(taken[2:])]
    assert sorted(p.name for p in directory.iterdir()) == sorted(b.path.name for b in kept)
    assert mode(directory) == 0o700
    assert all(mode(b.path) == 0o600 for b in kept)
    assert check_sqlite(kept[0].path, full=True, read_only=True) == []
    assert trade_ids(kept[0].path) == ["t-1", "t-2"]
    assert kept[0].taken_at == T0 + 4 * NS


@pytest.mark.asyncio
async def test_a_backup_taken_while_the_store_writes_is_consistent(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.path is not None
    store = await open_store(sqlite_db.url)
    try:
        assert await store.commit([factories.strategy(), factories.trade("t-1")])
        loop = BackupLoop(
            sqlite_db.path,
            tmp_path / "backups",
            interval=60,
            keep=2,
            clock=SystemClock(),
            alerts=Alerts(),
        )
        assert await store.commit([factories.trade("t-2")])  # in the WAL, not checkpointed
        backup = await loop.once()
        assert backup is not None
        assert loop.taken == 1
    finally:
        await store.close()
    assert trade_ids(backup.path) == ["t-1", "t-2"]


@pytest.mark.asyncio
async def test_overwritten_bytes_are_found_and_the_newest_good_backup_is_restored(
    sqlite_db: Database, tmp_path: Path
) -> None:
    path = sqlite_db.path
    assert path is not None
    await seeded(sqlite_db, "t-1")
    directory, aside = tmp_path / "backups", tmp_path / "corrupt"
    take_backup(path, directory, T0, keep=5)  # good, with t-1
    await seeded(sqlite_db, "t-2")
    newest = take_backup(path, directory, T0 + NS, keep=5)
    corrupt(newest.path)  # the newest backup is damaged too: it must be skipped
    corrupt(path)
    assert check_sqlite(path) != []

    checked = check_database(str(sqlite_db.url), directory, aside, T0 + 2 * NS)

    assert checked.restored is not None
    assert checked.restored.backup.taken_at == T0
    assert checked.restored.skipped
    assert newest.path.name in checked.restored.skipped[0]
    assert check_sqlite(path, full=True) == []
    assert trade_ids(path) == ["t-1"]  # t-2 was written after the good backup: lost
    assert mode(path) == 0o600
    assert checked.restored.corrupt_copy.parent == aside
    assert checked.restored.corrupt_copy.exists()  # kept for a person, never deleted
    store = await open_store(sqlite_db.url)  # the restored file opens and migrates
    try:
        assert [t.trade_id for t in (await store.load()).trades] == ["t-1"]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_garbled_header_is_corruption_too(sqlite_db: Database, tmp_path: Path) -> None:
    assert sqlite_db.path is not None
    await seeded(sqlite_db, "t-1")
    corrupt(sqlite_db.path, offset=0, size=100)
    [problem] = check_sqlite(sqlite_db.path)
    assert "not a database" in problem


@pytest.mark.asyncio
async def test_corruption_without_a_good_backup_refuses_the_start(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.path is not None
    await seeded(sqlite_db, "t-1")
    corrupt(sqlite_db.path)
    with pytest.raises(NoGoodBackup, match="refusing to start"):
        check_database(str(sqlite_db.url), tmp_path / "backups", tmp_path / "corrupt", T0)
    assert sqlite_db.path.exists()  # left where it was


def test_a_locked_database_is_not_taken_for_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseLocked, match="another process"):
            check_sqlite(path, busy_timeout=0.05)
    finally:
        holder.close()
    assert check_sqlite(path) == []


@pytest.mark.asyncio
async def test_a_healthy_database_and_a_first_start_are_left_alone(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.path is not None
    first = check_database(str(sqlite_db.url), tmp_path / "b", tmp_path / "c", T0)
    assert first.restored is None
    assert "first start" in first.summary
    await seeded(sqlite_db, "t-1")
    again = check_database(str(sqlite_db.url), tmp_path / "b", tmp_path / "c", T0)
    assert again.restored is None
    assert "quick_check ok" in again.summary


@pytest.mark.postgres
@pytest.mark.asyncio
async def test_postgres_is_checked_for_a_connection_and_a_known_schema(
    pg_database: Database,
) -> None:
    assert check_postgres(pg_database.url) is None  # empty: migrated next
    store = await open_store(pg_database.url)
    await store.close()
    assert check_postgres(pg_database.url) is not None
    engine = create_engine(pg_database.url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE tradeguard_alembic_version SET version_num='9999'"))
    finally:
        engine.dispose()
    with pytest.raises(DatabaseUnusable, match="9999"):
        check_postgres(pg_database.url)
    down = replace(pg_database).with_address("127.0.0.1", 1)
    with pytest.raises(DatabaseUnusable, match="not reachable"):
        check_postgres(down)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BACKUP_INTERVAL", "0"),
        ("BACKUP_INTERVAL", "nan"),
        ("BACKUP_INTERVAL", "86401"),
        ("BACKUP_KEEP", "0"),
        ("BACKUP_KEEP", "1001"),
    ],
)
def test_backup_settings_are_range_checked(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"TRADEGUARD_{variable}"):
        load_settings({f"TRADEGUARD_{variable}": value})


@pytest.mark.asyncio
async def test_the_loop_backs_up_every_interval_and_keeps_n(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.path is not None
    await seeded(sqlite_db, "t-1")
    clock = ManualClock(T0)
    directory = tmp_path / "backups"
    loop = BackupLoop(sqlite_db.path, directory, interval=60, keep=2, clock=clock, alerts=Alerts())
    task = asyncio.create_task(loop.run())

    def waiting_after(n: int) -> Callable[[], bool]:
        return lambda: loop.taken == n and clock.sleepers == 1

    try:
        await eventually(waiting_after(1))
        for n in (2, 3):
            clock.advance(60)
            await eventually(waiting_after(n))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [b.taken_at for b in backups(directory)] == [T0 + 120 * NS, T0 + 60 * NS]


@pytest.mark.asyncio
async def test_a_live_database_that_fails_its_backup_check_is_alerted_critical(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.path is not None
    await seeded(sqlite_db, "t-1")
    directory = tmp_path / "backups"
    good = take_backup(sqlite_db.path, directory, T0, keep=5)
    alerts = Alerts()
    loop = BackupLoop(
        sqlite_db.path, directory, interval=60, keep=1, clock=ManualClock(T0 + NS), alerts=alerts
    )
    corrupt(sqlite_db.path)
    assert await loop.once() is None
    assert alerts.levels() == ["critical"]
    assert [b.path for b in backups(directory)] == [good.path]  # the good one is kept
    assert list(directory.iterdir()) == [good.path]  # no .tmp left


@pytest.mark.asyncio
async def test_the_journal_is_replayed_on_top_of_a_restored_backup(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Writes still in the journal (the database never took them) survive a restore; what the
    database had taken after the backup does not (documented in docs/operations.md)."""
    path = sqlite_db.path
    assert path is not None
    await seeded(sqlite_db, "t-1")
    directory = tmp_path / "backups"
    take_backup(path, directory, T0, keep=5)
    await seeded(sqlite_db, "t-2")  # taken by the database after the backup
    journal = Journal(journal_path(path, tmp_path))
    journal.open()
    assert journal.append(1, [factories.trade("t-3")])  # the database never took it
    journal.close()
    corrupt(path)

    checked = check_database(str(sqlite_db.url), directory, tmp_path / "corrupt", T0 + NS)
    assert checked.restored is not None
    store = await open_store(sqlite_db.url, journal=journal_path(path, tmp_path))
    try:
        assert [t.trade_id for t in (await store.load()).trades] == ["t-1", "t-3"]
    finally:
        await store.close()
