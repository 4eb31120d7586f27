"""Adapters layer: the database check `tradeguard run` makes before it opens the store.

SQLite file: `quick_check`; a corrupt file is replaced by the newest backup that passes the
full `integrity_check` (backup.restore_newest_good: the corrupt file is kept under
`corrupt/`); a locked file or no good backup refuses the start (DatabaseCheckError). A file
that does not exist yet is a first start. PostgreSQL: a connection and a known schema revision.
What was found and done is returned for the log, the alert and the audit entry once the app is
up (the restore is followed by the usual reconciliation with the broker's books).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tradeguard.adapters.db.backup import Restored, restore_newest_good
from tradeguard.adapters.db.connect import normalize_url, sqlite_file
from tradeguard.adapters.db.integrity import check_postgres, check_sqlite

log = logging.getLogger("tradeguard.db")


@dataclass(frozen=True, slots=True)
class StartupCheck:
    backend: str
    summary: str
    restored: Restored | None = None


def check_database(url: str, backup_dir: Path, corrupt_dir: Path, now_ns: int) -> StartupCheck:
    """Check the configured database; restore a corrupt SQLite file from a backup. Raises
    DatabaseCheckError (with what to do) when tradeguard must not start on it."""
    path = sqlite_file(url)
    backend = normalize_url(url).get_backend_name()
    if path is None:
        if backend == "postgresql":
            revision = check_postgres(url)
            return StartupCheck(
                backend, f"PostgreSQL reachable, schema revision {revision or 'none (new)'}"
            )
        return StartupCheck(backend, "not checked (no database file)")
    if not path.exists():
        return StartupCheck(backend, f"{path} does not exist yet: a first start")
    problems = check_sqlite(path)
    if not problems:
        return StartupCheck(backend, f"{path}: quick_check ok")
    log.critical("database %s is CORRUPT: %s", path, "; ".join(problems[:5]))
    restored = restore_newest_good(path, backup_dir, corrupt_dir, problems, now_ns)
    log.critical(
        "database %s restored from the backup %s taken at %s (the corrupt file is kept as %s)",
        path,
        restored.backup.path.name,
        restored.backup.when,
        restored.corrupt_copy,
    )
    return StartupCheck(
        backend, f"{path} was corrupt: restored from {restored.backup.path.name}", restored
    )


__all__ = ["StartupCheck", "check_database"]
