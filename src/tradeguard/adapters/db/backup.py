"""Adapters layer: online backups of the SQLite database, and the restore from the newest good
one.

`take_backup` copies the live database with SQLite's online backup API (one step: a consistent
snapshot while tradeguard keeps writing; WAL readers do not block the writer) into
`<backups>/tradeguard-<UTC time>.db`, written as a `.tmp` file (0600, in a 0700 directory),
checked with `quick_check`, fsync'd and renamed into place; then only the newest `keep` are
kept. A backup whose check fails is deleted and raised as `BackupCheckFailed` (the live
database itself is damaged: the older backups are all kept).

`restore_newest_good` (start-up, after the live file failed its check): the backups are tried
newest first with the full `integrity_check`; the first good one is copied over the database,
after the corrupt file and its -wal/-shm are moved to `<data>/corrupt/` (kept for a person,
never deleted). No good backup -> `NoGoodBackup`: tradeguard refuses to start rather than
guard nothing.

`BackupLoop` runs under the app's supervisor: a backup at once, then every `interval` seconds;
a failure is logged and alerted (critical when the live database failed the check) and the loop
goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tradeguard.adapters.db.integrity import DatabaseCheckError, check_sqlite
from tradeguard.app.ports import AlertSink, Clock

log = logging.getLogger("tradeguard.db")

PREFIX = "tradeguard-"
SUFFIX = ".db"
_STAMP = "%Y%m%dT%H%M%S"


class BackupCheckFailed(DatabaseCheckError):
    """A fresh backup failed its check: the live database is damaged."""


class NoGoodBackup(DatabaseCheckError):
    """The database is corrupt and no backup passes the integrity check."""


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    taken_at: int  # epoch ns (from the file name, millisecond resolution)

    @property
    def when(self) -> str:
        return stamp_text(self.taken_at)


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did, for the log, the alert and the audit entry."""

    backup: Backup
    problems: list[str]  # what the check found in the live file
    corrupt_copy: Path  # where the corrupt file now lives
    skipped: list[str] = field(default_factory=list)  # newer backups that failed their check


def stamp_text(ns: int) -> str:
    """An epoch-ns time as UTC ISO 8601 with milliseconds."""
    moment = datetime.fromtimestamp(ns / 1e9, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def backup_name(now_ns: int) -> str:
    moment = datetime.fromtimestamp(now_ns // 1_000_000 / 1000, UTC)
    return f"{PREFIX}{moment.strftime(_STAMP)}{(now_ns // 1_000_000) % 1000:03d}Z{SUFFIX}"


def _taken_at(name: str) -> int | None:
    if not (name.startswith(PREFIX) and name.endswith("Z" + SUFFIX)):
        return None
    text = name[len(PREFIX) : -len("Z" + SUFFIX)]
    try:
        moment = datetime.strptime(text[:-3], _STAMP).replace(tzinfo=UTC)
        millis = int(text[-3:])
    except ValueError:
        return None
    return (int(moment.timestamp()) * 1000 + millis) * 1_000_000


def backups(directory: Path) -> list[Backup]:
    """The backups in `directory`, newest first (other files are ignored)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        taken = _taken_at(path.name)
        if taken is not None and path.is_file():
            found.append(Backup(path, taken))
    return sorted(found, key=lambda b: b.taken_at, reverse=True)


def private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)


def take_backup(database: Path, directory: Path, now_ns: int, keep: int) -> Backup:
    """Back the live SQLite file up into `directory` and keep the newest `keep` backups."""
    private_dir(directory)
    final = directory / backup_name(now_ns)
    tmp = final.with_name(final.name + ".tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        source = sqlite3.connect(f"{database.absolute().as_uri()}?mode=rw", uri=True, timeout=5)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)  # all pages in one step: one consistent snapshot
                target.execute("PRAGMA journal_mode = DELETE")  # a self-contained file
            finally:
                target.close()
        finally:
            source.close()
        problems = check_sqlite(tmp, read_only=True)
        if problems:
            raise BackupCheckFailed(
                f"the backup of {database} failed its check, so the live database is damaged: "
                + "; ".join(problems[:5])
            )
        _fsync(tmp)
        os.replace(tmp, final)
        _fsync(directory)
    finally:
        tmp.unlink(missing_ok=True)
    prune(directory, keep)
    return Backup(final, _taken_at(final.name) or now_ns)


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; returns the deleted files."""
    deleted = []
    for old in backups(directory)[keep:]:
        old.path.unlink(missing_ok=True)
        deleted.append(old.path)
    return deleted


def restore_newest_good(
    database: Path, directory: Path, corrupt_dir: Path, problems: list[str], now_ns: int
) -> Restored:
    """Replace the corrupt `database` by the newest backup that passes `integrity_check`."""
    skipped = []
    for candidate in backups(directory):
        try:
            found = check_sqlite(candidate.path, full=True, read_only=True)
        except DatabaseCheckError as error:
            found = [str(error)]
        if found:
            log.error("backup %s fails its check: %s", candidate.path, "; ".join(found[:3]))
            skipped.append(f"{candidate.path.name}: {found[0]}")
            continue
        corrupt_copy = _move_aside(database, corrupt_dir, now_ns)
        tmp = database.with_name(database.name + ".restore")
        tmp.unlink(missing_ok=True)
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        shutil.copyfile(candidate.path, tmp)
        _fsync(tmp)
        os.replace(tmp, database)
        _fsync(database.parent)
        return Restored(candidate, problems, corrupt_copy, skipped)
    raise NoGoodBackup(
        f"database {database} is corrupt ({'; '.join(problems[:3])}) and no backup in "
        f"{directory} passes the integrity check"
        + (f" ({'; '.join(skipped)})" if skipped else "")
        + ": refusing to start. Restore a copy by hand (or move the file away to start empty, "
        "losing every trade it guarded)"
    )


def _move_aside(database: Path, corrupt_dir: Path, now_ns: int) -> Path:
    """Move the database and its -wal/-shm (which must never be applied to the restored file)
    to `corrupt_dir`; returns the database's new path."""
    private_dir(corrupt_dir)
    target = corrupt_dir / backup_name(now_ns)
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = database.with_name(database.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    _fsync(corrupt_dir)
    return target


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BackupLoop:
    """Periodic backups of the live database (see the module docstring)."""

    def __init__(
        self,
        database: Path,
        directory: Path,
        *,
        interval: float,
        keep: int,
        clock: Clock,
        alerts: AlertSink,
    ) -> None:
        self.database = database
        self.directory = directory
        self.interval = interval
        self.keep = keep
        self.clock = clock
        self.alerts = alerts
        self.taken = 0
        self.failures = 0
        self.last: Backup | None = None

    async def run(self) -> None:
        while True:
            await self.once()
            await self.clock.sleep(self.interval)

    async def once(self) -> Backup | None:
        """One backup; a failure is logged and alerted, never raised."""
        now = self.clock.now()
        try:
            backup = await asyncio.to_thread(
                take_backup, self.database, self.directory, now, self.keep
            )
        except BackupCheckFailed as error:
            self.failures += 1
            self.alerts.alert(
                "critical",
                f"database backup: {error}. Stop tradeguard and start it again: the start-up "
                "check restores the newest good backup",
            )
            return None
        except (OSError, sqlite3.Error, DatabaseCheckError) as error:
            self.failures += 1
            log.exception("database backup failed")
            self.alerts.alert("error", f"database backup failed: {error}")
            return None
        self.taken += 1
        self.last = backup
        log.info("database backed up to %s", backup.path)
        return backup


__all__ = [
    "Backup",
    "BackupCheckFailed",
    "BackupLoop",
    "NoGoodBackup",
    "Restored",
    "backups",
    "prune",
    "restore_newest_good",
    "take_backup",
]
