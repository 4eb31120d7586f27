"""Adapters layer: the write-ahead journal, a local append-only file of the writes the database
could not take yet (down, locked, hung), fsync'd before the store acknowledges them.

One line per record: `<crc32 as 8 hex digits> <payload length> <payload>\\n`, where the payload
is JSON `{"seq": n, "type": "<record class>", "fields": {...}}`. Every record of the app's
`Record` union is a slotted dataclass of primitives and dicts, so any of them (and any type
added to the union later) is written by its class name and fields, with no code of its own.
`seq` is the store's sequence number of the `commit` call the record came with: the records
of one call share it and go to the database in one transaction, in `seq` order.

A crash can tear the last line: a line whose length or checksum does not match is ignored
with a warning (and cut off the file, so the next append starts on a fresh line), never
parsed. The file is created 0600 in a directory kept 0700. Thread-safe: the store appends
from its journal thread and clears from its database worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_args

from tradeguard.app.records import Record

log = logging.getLogger("tradeguard.db")

JOURNAL_NAME = "tradeguard.journal"
RECORD_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(Record)}


class JournalError(ValueError):
    """A line that is not a whole, intact journal entry."""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    record: Record


def journal_path(sqlite_file: Path | None, data_dir: Path) -> Path:
    """Where the journal lives: next to the SQLite file, else in the data directory."""
    return (sqlite_file.parent if sqlite_file is not None else data_dir) / JOURNAL_NAME


def encode(seq: int, record: Record) -> bytes:
    """One journal line. Raises TypeError/ValueError for a value JSON cannot hold."""
    name = type(record).__name__
    if RECORD_TYPES.get(name) is not type(record):
        raise TypeError(f"{name} is not a record type of the journal")
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    payload = json.dumps(
        {"seq": seq, "type": name, "fields": values},
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")
    return b"%08x %d %s\n" % (zlib.crc32(payload), len(payload), payload)


def decode(line: bytes) -> Entry:
    """The entry of one line (without its newline); JournalError if it is not intact."""
    try:
        crc_text, length_text, payload = line.split(b" ", 2)
        crc, length = int(crc_text, 16), int(length_text)
    except ValueError:
        raise JournalError("not a journal line") from None
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise JournalError("length or checksum mismatch")
    try:
        value = json.loads(payload)
        cls = RECORD_TYPES[value["type"]]
        return Entry(int(value["seq"]), cls(**value["fields"]))
    except (ValueError, KeyError, TypeError) as error:
        raise JournalError(f"unreadable entry: {error}") from None


class Journal:
    """The journal file. `append` returns False (and logs) when the disk cannot take it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._last_seq = 0  # the highest seq in the file (0: empty)
        self._size = 0
        self.failures = 0

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._last_seq

    @property
    def empty(self) -> bool:
        with self._lock:
            return self._size == 0

    def open(self) -> list[Entry]:
        """Open (create) the file and return its intact entries, ordered by seq. A torn last
        line is cut off; a damaged line elsewhere is logged (CRITICAL) and skipped."""
        with self._lock:
            directory = self.path.parent
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # not ours to change: logged by the check below
                os.chmod(directory, 0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            os.fchmod(fd, 0o600)
            self._fd = fd
            entries, good = self._read(fd)
            size = os.fstat(fd).st_size
            if good < size:
                os.ftruncate(fd, good)
                os.fsync(fd)
            self._size = good
            self._last_seq = max((e.seq for e in entries), default=0)
        entries.sort(key=lambda e: e.seq)
        return entries

    def _read(self, fd: int) -> tuple[list[Entry], int]:
        data = b""
        os.lseek(fd, 0, os.SEEK_SET)
        while chunk := os.read(fd, 1 << 20):
            data += chunk
        entries: list[Entry] = []
        offset = 0
        good = 0  # bytes up to the end of the last line kept
        while offset < len(data):
            end = data.find(b"\n", offset)
            if end < 0:
                log.warning(
                    "journal %s: torn last line (%d bytes) ignored", self.path, len(data) - offset
                )
                break
            line = data[offset:end]
            try:
                entries.append(decode(line))
            except JournalError as error:
                if end + 1 >= len(data):
                    log.warning("journal %s: torn last line ignored (%s)", self.path, error)
                    break
                log.critical(
                    "journal %s: damaged line at byte %d skipped (%s): %r",
                    self.path,
                    offset,
                    error,
                    line[:500],
                )
            offset = end + 1
            good = offset
        return entries, good

    def append(self, seq: int, records: Sequence[Record]) -> bool:
        """Write the records of one commit and fsync. False: not durable (logged)."""
        try:
            data = b"".join(encode(seq, r) for r in records)
        except (TypeError, ValueError) as error:
            self.failures += 1
            log.critical("journal: records of commit %d cannot be encoded: %s", seq, error)
            return False
        with self._lock:
            fd = self._fd
            if fd is None:
                self.failures += 1
                log.critical("journal %s is not open: commit %d not journaled", self.path, seq)
                return False
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError as error:
                self.failures += 1
                log.critical("journal %s: write failed (%s): commit %d", self.path, error, seq)
                with contextlib.suppress(OSError):  # drop a partial line: it would be torn
                    os.ftruncate(fd, self._size)
                return False
            self._size += len(data)
            self._last_seq = max(self._last_seq, seq)
            return True

    def clear_upto(self, seq: int) -> bool:
        """Empty the file if every entry in it has a seq <= `seq` (all in the database)."""
        with self._lock:
            if self._fd is None or self._size == 0 or self._last_seq > seq:
                return False
            try:
                os.ftruncate(self._fd, 0)
                os.fsync(self._fd)
            except OSError as error:
                log.error("journal %s: could not be emptied (%s)", self.path, error)
                return False
            self._size = 0
            return True

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
