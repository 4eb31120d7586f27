"""Adapters layer: checking a database before tradeguard trusts it.

SQLite: `PRAGMA quick_check` at start-up (and on every backup just written), the full
`PRAGMA integrity_check` on a backup before it is restored. A corrupt file (SQLite's
SQLITE_CORRUPT or SQLITE_NOTADB, or a check that lists problems) is told apart from a locked
one (SQLITE_BUSY/SQLITE_LOCKED: another process holds it; nothing is wrong with the file and
it must never be "restored" over). PostgreSQL: a connection and the schema revision, which must
be one the packaged migrations know (a newer tradeguard's schema is refused, not migrated).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from tradeguard.adapters.db.connect import create_engine
from tradeguard.adapters.db.migrate import alembic_config, current_revision

_CORRUPT = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class DatabaseCheckError(RuntimeError):
    """The database cannot be used as it is; the message says why and what to do."""


class DatabaseLocked(DatabaseCheckError):
    """Another process holds the SQLite file (it is not corrupt)."""


class DatabaseUnusable(DatabaseCheckError):
    """PostgreSQL cannot be reached, or its schema is not one this tradeguard knows."""


def check_sqlite(
    path: Path, *, full: bool = False, read_only: bool = False, busy_timeout: float = 5.0
) -> list[str]:
    """The problems `quick_check` (`full`: `integrity_check`) finds in the SQLite file at
    `path`; [] when it is healthy. Raises DatabaseLocked when the file is held by another
    process, FileNotFoundError when it does not exist."""
    if not path.exists():
        raise FileNotFoundError(path)
    mode = "ro" if read_only else "rw"
    pragma = "integrity_check" if full else "quick_check"
    try:
        db = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode={mode}", uri=True, timeout=busy_timeout
        )
    except sqlite3.Error as error:
        return _classify(path, error)
    try:
        rows = db.execute(f"PRAGMA {pragma}").fetchall()
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        return _classify(path, error)
    finally:
        db.close()
    return [str(row[0]) for row in rows if row[0] != "ok"]


def _classify(path: Path, error: sqlite3.Error) -> list[str]:
    code = getattr(error, "sqlite_errorcode", None)
    if code in _LOCKED or "locked" in str(error):
        raise DatabaseLocked(
            f"database {path} is locked by another process ({error}): is another tradeguard "
            "running on the same data directory?"
        ) from error
    text = str(error)
    if code in _CORRUPT or "malformed" in text or "not a database" in text:
        return [f"{type(error).__name__}: {error}"]
    raise DatabaseCheckError(f"cannot check database {path}: {error}") from error


def check_postgres(url: str | URL) -> str | None:
    """Connect and read the schema revision (None: an empty database, migrated next). Raises
    DatabaseUnusable when the server cannot be reached or the revision is unknown."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    except SQLAlchemyError as error:
        raise DatabaseUnusable(f"PostgreSQL is not reachable: {error}") from error
    finally:
        engine.dispose()
    if revision is not None:
        try:
            known = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise DatabaseUnusable(
                f"the database schema is at revision {revision!r}, which this tradeguard does "
                "not know (written by a newer version?): refusing to start on it"
            )
    return revision


__all__ = [
    "DatabaseCheckError",
    "DatabaseLocked",
    "DatabaseUnusable",
    "check_postgres",
    "check_sqlite",
]
