"""Adapters layer: the store's bounded FIFO of writes not yet committed.

Batches (the records of one `commit` call) wait here in order while the database is down.
When the queue holds more than `limit` records it is compacted down to 90% of the limit:
first every snapshot superseded by a newer one of the same trade/strategy/account is dropped
(snapshots are full and idempotent, and a trade's progress is superseded by its newer
progress or full snapshot, so the final state is unchanged); if that is not enough,
the oldest audit entries are dropped, each written to the log at CRITICAL level in full so
none is lost silently. The newest snapshot of every key is never dropped, even over the
limit. The limit bounds the queue; the store's `pending` also counts the one chunk being
written, so it can exceed the limit by that chunk until the write ends (put back after a
failure, the chunk is compacted with the rest). Not thread-safe: the store guards it with its
lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from tradeguard.adapters.db.rows import snapshot_key, superseded_by
from tradeguard.app.records import AuditRecord, Record

log = logging.getLogger("tradeguard.db")


@dataclass(slots=True)
class Waiter:
    """The event loop and future of a caller awaiting a result from the worker thread."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[object]

    def resolve(self, value: object = None, error: BaseException | None = None) -> None:
        """Set the result from any thread; ignored if the caller stopped waiting."""

        def apply() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(value)

        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self.loop.call_soon_threadsafe(apply)


@dataclass(slots=True)
class Batch:
    """The records of one `commit` call. `seq`: the call's sequence number (journal order);
    `done`: in the database (or refused there), so no longer the journal's to keep;
    `withdrawn`: its caller was told "not stored", so a failed write does not put it back."""

    records: list[Record]
    waiter: Waiter | None = None
    seq: int = 0
    done: bool = False
    withdrawn: bool = False


@dataclass(slots=True)
class PendingQueue:
    limit: int
    _batches: deque[Batch] = field(default_factory=deque)
    _count: int = 0
    dropped_snapshots: int = 0
    dropped_audit: int = 0

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return bool(self._batches)

    def push(self, batch: Batch) -> None:
        self._batches.append(batch)
        self._count += len(batch.records)
        if self._count > self.limit:
            self._compact()

    def take(self, max_records: int) -> list[Batch]:
        """Pop whole batches from the front: at least one, then up to `max_records`."""
        taken: list[Batch] = []
        size = 0
        while self._batches:
            nxt = len(self._batches[0].records)
            if taken and size + nxt > max_records:
                break
            batch = self._batches.popleft()
            taken.append(batch)
            size += nxt
            self._count -= nxt
        return taken

    def put_back(self, batches: list[Batch]) -> None:
        """Return batches taken by `take` to the front, in their order, except those withdrawn
        meanwhile (their callers were told "not stored": they must never land). While they
        were out (being written) the queue may have filled to its limit again: compact if
        over it."""
        for batch in reversed(batches):
            if batch.withdrawn:
                continue
            self._batches.appendleft(batch)
            self._count += len(batch.records)
        if self._count > self.limit:
            self._compact()

    def remove(self, batch: Batch) -> bool:
        """Take a queued batch out (its caller withdrew it); False if it is not queued."""
        for index, queued in enumerate(self._batches):
            if queued is batch:
                del self._batches[index]
                self._count -= len(batch.records)
                return True
        return False

    def records(self) -> Iterator[Record]:
        """Every queued record, oldest first."""
        for batch in self._batches:
            yield from batch.records

    def _compact(self) -> None:
        target = self.limit - self.limit // 10
        before = self._count
        seen: set[tuple[str, str]] = set()
        for batch in reversed(self._batches):
            kept: list[Record] = []
            for record in reversed(batch.records):
                if any(key in seen for key in superseded_by(record)):
                    self.dropped_snapshots += 1
                    continue
                key = snapshot_key(record)
                if key is not None:
                    seen.add(key)
                kept.append(record)
            kept.reverse()
            batch.records = kept
        self._recount()
        log.warning(
            "database write queue over its limit of %d records: dropped %d superseded "
            "snapshots (%d queued now)",
            self.limit,
            before - self._count,
            self._count,
        )
        if self._count > target:
            self._drop_oldest_audit(self._count - target)
        if self._count > self.limit:
            log.error(
                "database write queue holds %d records, over its limit of %d: all are the "
                "newest state of a trade, strategy or account and are kept",
                self._count,
                self.limit,
            )

    def _drop_oldest_audit(self, excess: int) -> None:
        dropped = 0
        for batch in self._batches:
            if dropped >= excess:
                break
            kept: list[Record] = []
            for record in batch.records:
                if dropped < excess and isinstance(record, AuditRecord):
                    dropped += 1
                    log.critical("audit entry dropped from the full queue: %s", _dump(record))
                else:
                    kept.append(record)
            batch.records = kept
        if dropped:
            self.dropped_audit += dropped
            log.critical(
                "database write queue full: %d audit entries dropped (logged above)", dropped
            )
        self._recount()

    def _recount(self) -> None:
        for batch in self._batches:
            if not batch.records and batch.waiter is not None:
                batch.waiter.resolve(False)
        self._batches = deque(b for b in self._batches if b.records)
        self._count = sum(len(b.records) for b in self._batches)


def _dump(record: AuditRecord) -> str:
    return json.dumps(asdict(record), sort_keys=True, default=str)
