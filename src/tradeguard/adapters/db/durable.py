"""Adapters layer: the store's collaborators for durability besides the database itself.

- `JournalKeeper`: the write-ahead journal (journal.py) on a thread of its own, so the
  event loop never waits for an fsync; turns the journal's entries into the store's batches
  for the start-up replay.
- `Refusals`: the records the database refused as data: logged at CRITICAL, kept for
  /health (count and the newest ones, with content and error) and audited.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradeguard.adapters.db import rows
from tradeguard.adapters.db.journal import Entry, Journal, encode
from tradeguard.adapters.db.pending import Batch, Waiter
from tradeguard.app.records import AuditRecord, Record

log = logging.getLogger("tradeguard.db")
REFUSED_KEPT = 100  # the newest refused records kept for /health


class JournalKeeper:
    """The journal and its one thread (appends in call order)."""

    def __init__(self, path: Path) -> None:
        self.journal = Journal(path)
        self._thread = ThreadPoolExecutor(1, "tradeguard-journal")

    @property
    def path(self) -> Path:
        return self.journal.path

    @property
    def empty(self) -> bool:
        return self.journal.empty

    @property
    def last_seq(self) -> int:
        return self.journal.last_seq

    async def open(self) -> list[Entry] | None:
        """The journal's entries (None: it cannot be opened, logged at CRITICAL)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self.journal.open)
        except OSError as error:
            log.critical(
                "journal %s cannot be opened (%s): writes during a database outage will not "
                "be durable",
                self.path,
                error,
            )
            return None

    async def append(self, seq: int, records: Sequence[Record]) -> bool:
        loop = asyncio.get_running_loop()
        return bool(await loop.run_in_executor(self._thread, self.journal.append, seq, records))

    def clear_upto(self, seq: int) -> None:
        """Empty the journal if the database holds everything in it (from any thread)."""
        self.journal.clear_upto(seq)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.journal.close()


def replay_batches(
    entries: Sequence[Entry], mark: int, loop: asyncio.AbstractEventLoop
) -> list[Batch]:
    """The entries the database does not have yet (seq after its `mark`), one batch per
    original commit, in order, each with a waiter."""
    batches: list[Batch] = []
    for entry in entries:
        if entry.seq <= mark:
            continue
        if batches and batches[-1].seq == entry.seq:
            batches[-1].records.append(entry.record)
        else:
            batches.append(Batch([entry.record], Waiter(loop, loop.create_future()), entry.seq))
    return batches


@dataclass(frozen=True, slots=True)
class RefusedRecord:
    """A record the database refused as data (kept out of the batch it came with)."""

    kind: str
    key: str
    error: str
    record: str  # its journal encoding: type name and every field


def refused_record(record: Record, error: Exception) -> RefusedRecord:
    key = rows.snapshot_key(record)
    if key is None and isinstance(record, AuditRecord):
        key = ("audit", record.subject)
    try:
        text = encode(0, record).decode("ascii").split(" ", 2)[2].strip()
    except (TypeError, ValueError):
        text = repr(record)
    return RefusedRecord(
        kind=type(record).__name__,
        key=":".join(key) if key else "",
        error=first_line(error),
        record=text,
    )


class Refusals:
    """What the database refused since the start. Not thread-safe: the store's lock guards
    `keep`; `view` reads a snapshot."""

    def __init__(self) -> None:
        self.records: deque[RefusedRecord] = deque(maxlen=REFUSED_KEPT)
        self.count = 0

    def note(self, refused: Sequence[tuple[Record, Exception]], now: int) -> list[Record]:
        """Log each refused record at CRITICAL; the audit entries that record them."""
        audits: list[Record] = []
        for record, error in refused:
            entry = refused_record(record, error)
            log.critical(
                "the database refused a record (the others were written): %s %s: %s; record: %s",
                entry.kind,
                entry.key,
                entry.error,
                entry.record,
            )
            if isinstance(record, AuditRecord) and record.action == "record_refused":
                continue  # never a loop of audits about audits
            detail = {"kind": entry.kind, "error": entry.error, "record": entry.record}
            audits.append(
                AuditRecord(now, "system", "record_refused", entry.key or entry.kind, detail)
            )
        return audits

    def keep(self, refused: Sequence[tuple[Record, Exception]]) -> None:
        for record, error in refused:
            self.records.append(refused_record(record, error))
            self.count += 1

    def view(self) -> dict[str, Any]:
        """Count since start, and the newest refused records with detail (for /health)."""
        return {
            "count": self.count,
            "records": [
                {"kind": r.kind, "key": r.key, "error": r.error, "record": r.record}
                for r in list(self.records)
            ],
        }


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
