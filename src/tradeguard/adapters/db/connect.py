"""Adapters layer: engines from a database URL.

Default: a SQLite file under ./data/ (created on first use, directory 0700, the file and its
-wal/-shm files 0600) in WAL mode, with `busy_timeout`
and `synchronous=NORMAL` set on every connection. Once the file exists, it must keep
existing: a file that vanished or was replaced under an open connection is a database outage
(writes would otherwise land in an unlinked inode or a fresh empty file). PostgreSQL comes from
TRADEGUARD_DATABASE_URL through psycopg 3, with short connect timeouts and TCP keepalives so
a dead server is noticed in seconds.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.engine import create_engine as sa_create_engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

ENV_VAR = "TRADEGUARD_DATABASE_URL"
FILE_ID = "tradeguard_file_id"  # pool record info: (st_dev, st_ino) of the file when opened
DEFAULT_URL = "sqlite:///./data/tradeguard.db"

_PG_DEFAULTS = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The configured database URL: TRADEGUARD_DATABASE_URL, else the default SQLite file."""
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "").strip() or DEFAULT_URL


def normalize_url(url: str | URL) -> URL:
    """Parse `url`; plain postgres:// and postgresql:// URLs get the psycopg 3 driver."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of a file-based SQLite URL (None for in-memory or other databases)."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(
    url: str | URL,
    *,
    busy_timeout_ms: int = 500,
    wal_autocheckpoint: bool = True,
    **kwargs: Any,
) -> Engine:
    """An engine for `url`; SQLite files get their directory created and the pragmas above.
    `wal_autocheckpoint=False`: the caller checkpoints the WAL itself (checkpoint.py)."""
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        connect_args = {**_PG_DEFAULTS, **kwargs.pop("connect_args", {})}
        for key in list(connect_args):
            if key in parsed.query:
                del connect_args[key]  # the URL wins
        kwargs.setdefault("pool_pre_ping", True)
        return sa_create_engine(parsed, connect_args=connect_args, **kwargs)
    engine = sa_create_engine(parsed, **kwargs)
    if backend == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            path = path.absolute()
            if not path.parent.exists():  # an existing directory is bootstrap's (data_dir)
                private_directory(path.parent)
        _install_sqlite_hooks(engine, path, busy_timeout_ms, wal_autocheckpoint)
    return engine


def _install_sqlite_hooks(
    engine: Engine, path: Path | None, busy_timeout_ms: int, wal_autocheckpoint: bool
) -> None:
    seen = {"created": path is not None and path.exists()}

    @event.listens_for(engine, "do_connect")
    def _open_existing(
        dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]
    ) -> None:
        # After the file has existed once, never create a fresh empty one in its place.
        if path is not None:
            mode = "rw" if seen["created"] else "rwc"
            if mode == "rwc":  # SQLite gives the -wal and -shm files the main file's mode
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            cargs[:] = [f"{path.as_uri()}?mode={mode}"]
            cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if path is not None:
                cursor.execute("PRAGMA journal_mode = WAL")
                if not wal_autocheckpoint:
                    cursor.execute("PRAGMA wal_autocheckpoint = 0")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        if path is not None:
            seen["created"] = True
            record.info[FILE_ID] = _file_id(path)
            private_files(path)

    @event.listens_for(engine, "checkout")
    def _same_file(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        ensure_same_file(path, record.info)


def private_directory(directory: Path) -> None:
    """Create `directory` (and its parents) readable only by this user; an existing one this
    user owns is made 0700 too: call it for tradeguard's own data directory only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_uid == os.getuid() and directory.stat().st_mode & 0o077:
        os.chmod(directory, 0o700)


def private_files(path: Path) -> None:
    """The database file and its -wal/-shm companions 0600 (older installations were 0644)."""
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue


def ensure_same_file(path: Path | None, info: Mapping[Any, Any]) -> None:
    """Raise DisconnectionError when the SQLite file a connection opened (`info`: its pool
    record's info) vanished or was replaced since; nothing for other databases."""
    if path is None:
        return
    expected = info.get(FILE_ID)
    if expected is not None and _file_id(path) != expected:
        raise DisconnectionError(f"database file {path} vanished or was replaced")


def sqlite_file(url: str | URL) -> Path | None:
    """The absolute path of a file-based SQLite URL, as the engine's hooks see it."""
    path = sqlite_path(normalize_url(url))
    return None if path is None else path.absolute()


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)
