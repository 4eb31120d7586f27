"""Tests (adapters, database files): the data directory is 0700, the SQLite file and its WAL
and SHM files 0600, whatever the umask, and an older 0644 installation is made private."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from tradeguard.adapters.db.connect import create_engine, private_directory


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_new_database_files_and_directory_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data = tmp_path / "data"
        engine = create_engine(f"sqlite:///{data / 'tg.db'}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
            # the WAL and SHM files exist while a connection is open
            assert _mode(data / "tg.db-wal") == 0o600
            assert _mode(data / "tg.db-shm") == 0o600
        assert _mode(data) == 0o700
        assert _mode(data / "tg.db") == 0o600
        engine.dispose()
    finally:
        os.umask(old)


def test_a_database_in_an_existing_directory_leaves_that_directory_alone(tmp_path: Path) -> None:
    shared = tmp_path / "projects"
    shared.mkdir()
    os.chmod(shared, 0o755)
    engine = create_engine(f"sqlite:///{shared / 'tg.db'}")
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))
    assert _mode(shared) == 0o755  # not tradeguard's to change
    assert _mode(shared / "tg.db") == 0o600
    engine.dispose()


def test_an_older_world_readable_installation_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    first = create_engine(f"sqlite:///{data / 'tg.db'}")
    with first.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    first.dispose()
    os.chmod(data, 0o755)
    os.chmod(data / "tg.db", 0o644)
    private_directory(data)  # as bootstrap does for TRADEGUARD_DATA_DIR at every start
    engine = create_engine(f"sqlite:///{data / 'tg.db'}")
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))
        assert _mode(data / "tg.db-wal") == 0o600
    assert _mode(data) == 0o700
    assert _mode(data / "tg.db") == 0o600
    engine.dispose()
