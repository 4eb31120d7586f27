"""Adapters layer: SqlStore, the app's Store port on SQLAlchemy (SQLite or PostgreSQL).

All database work runs on one dedicated worker thread with plain sync sessions (worker.DbWorker,
which also owns the write queue and the outage state); this module is the event loop's side:
it only hands work over and waits on futures, never on the database. Writes go through one FIFO
(pending.PendingQueue): `commit` queues its records and waits a short `commit_timeout` for the
worker to commit them in one transaction. If the database is down, locked or slow, the records
stay queued and go to the write-ahead journal (journal.py, fsync'd: `commit` returns True,
durable); without a journal, or when it cannot take them either, `commit` returns False. The
store turns `degraded`, retries with backoff, replays the queue in order (before any newer
write, since it is the same queue), and turns healthy again once the queue is empty; the
journal is emptied once the database has everything in it. On start-up the journal is replayed
first. A record the database refuses is isolated (writer.py) and kept in `refused`.
Reads see queued snapshots on top of the database. A saturated event loop steps aside briefly
when the worker waits too long for the interpreter lock (handoff.LockHandoff).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from tradeguard.adapters.db import queued, rows
from tradeguard.adapters.db.checkpoint import WalCheckpointer
from tradeguard.adapters.db.connect import create_engine, database_url, sqlite_file
from tradeguard.adapters.db.durable import (
    JournalKeeper,
    RefusedRecord,
    replay_batches,
)
from tradeguard.adapters.db.errors import StoreClosed, StoreUnavailable, is_outage
from tradeguard.adapters.db.handoff import LockHandoff
from tradeguard.adapters.db.migrate import upgrade_connection
from tradeguard.adapters.db.pending import Batch, Waiter
from tradeguard.adapters.db.worker import DbWorker
from tradeguard.app.records import (
    AccountRecord,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    ExitOrderRecord,
    HistoryQuery,
    LoadedState,
    Record,
    TradeRecord,
    UserRecord,
)

log = logging.getLogger("tradeguard.db")
T = TypeVar("T")
__all__ = ["RefusedRecord", "SqlStore", "StoreClosed", "StoreUnavailable", "is_outage"]


class SqlStore:
    """The Store port on a SQLAlchemy engine. Call `await start()` (or use `open`) first."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        max_pending: int = 100_000,
        commit_timeout: float = 1.0,
        slow_limit: float = 2.0,
        read_timeout: float = 5.0,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
        busy_timeout_ms: int = 500,
        chunk_records: int = 1_000,
        close_timeout: float = 5.0,
        checkpoint_interval: float = 1.0,
        journal: Path | None = None,
    ) -> None:
        self.url = url if url is not None else database_url()
        self._journal = JournalKeeper(journal) if journal is not None else None
        self._engine = create_engine(
            self.url, busy_timeout_ms=busy_timeout_ms, wal_autocheckpoint=False
        )
        self._checkpoints: WalCheckpointer | None = None
        if sqlite_file(self.url) is not None:
            self._checkpoints = WalCheckpointer(self._engine, checkpoint_interval)
        self._commit_timeout = commit_timeout
        self._slow_limit = slow_limit
        self._read_timeout = read_timeout
        self._close_timeout = close_timeout
        self._closed = False
        self._worker = DbWorker(
            self._engine,
            max_pending=max_pending,
            chunk_records=chunk_records,
            retry_initial=retry_initial,
            retry_max=retry_max,
            journal=self._journal,
            checkpoints=self._checkpoints,
        )
        self.handoff = LockHandoff(self._worker.heartbeat)
        self._worker.start()

    @classmethod
    async def open(cls, url: str | URL | None = None, **options: Any) -> SqlStore:
        """Create the store and migrate the schema to the newest revision."""
        store = cls(url, **options)
        try:
            await store.start()
        except BaseException:
            await store.close()
            raise
        return store

    async def start(self, migrate: bool = True) -> None:
        """Create or upgrade the schema (first start creates the database), then replay the
        journal into it (before anything is loaded)."""
        if migrate:
            await self._call(self._migrate, wait_limit=max(self._read_timeout, 60.0))
        if self._checkpoints is not None:
            self._checkpoints.start()
        if self._journal is not None:
            await self._replay_journal(self._journal)

    async def _replay_journal(self, journal: JournalKeeper) -> None:
        """Queue every journal entry the database does not have yet (seq after its mark), in
        order, ahead of any new write, and wait (bounded) for them to land."""
        entries = await journal.open()
        if entries is None:
            return
        mark = await self._call(rows.journal_mark)
        batches = replay_batches(entries, mark, asyncio.get_running_loop())
        self._worker.push_replay(batches, max(mark, journal.last_seq))
        if not batches:
            journal.clear_upto(mark)
            return
        count = sum(len(b.records) for b in batches)
        log.warning(
            "journal %s: replaying %d records of %d commits", journal.path, count, len(batches)
        )
        self.handoff.kick()
        futures = [b.waiter.future for b in batches if b.waiter is not None]
        done, _ = await asyncio.wait(futures, timeout=max(self._read_timeout, 10.0))
        landed = sum(1 for f in done if not f.cancelled() and f.exception() is None and f.result())
        if landed < len(batches):
            log.error(
                "journal: %d of %d commits not in the database yet (kept queued and journaled)",
                len(batches) - landed,
                len(batches),
            )

    @staticmethod
    def _migrate(session: Session) -> None:
        upgrade_connection(session.connection())
        session.commit()

    # --- Store port ------------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        return self._worker.degraded

    @property
    def journal_path(self) -> Path | None:
        return None if self._journal is None else self._journal.path

    @property
    def journaled(self) -> bool:
        """True while the journal holds records the database may not have yet."""
        return self._journal is not None and not self._journal.empty

    def refused_view(self) -> dict[str, Any]:
        """Records the database refused (count since start, the newest with detail)."""
        return self._worker.refused_view()

    @property
    def pending(self) -> int:
        """Records accepted by `commit` and not yet in the database."""
        return self._worker.pending

    async def commit(self, records: Sequence[Record]) -> bool:
        if self._closed:
            raise StoreClosed("the store is closed")
        batch_records = list(records)
        if not batch_records:
            return True
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop, loop.create_future())
        batch, degraded = self._worker.push(batch_records, waiter)
        self.handoff.kick()
        if degraded:
            if self._journal is None:
                return False  # queued, not durable
            if await self._journal_batch(batch, batch_records):
                return True
            # the journal cannot take it: the database is the one chance left (it may be back)
            if await self._wait_written(waiter):
                return True
        elif await self._wait_written(waiter) or await self._journal_batch(batch, batch_records):
            return True
        return self._withdraw(batch)

    async def _wait_written(self, waiter: Waiter) -> bool:
        """Wait for the worker to commit the batch of `waiter`: False on an outage.

        Wait in steps of commit_timeout. While the worker keeps committing (a busy database,
        or this batch queued behind a flush) the store is slow, not down: keep waiting, up
        to `slow_limit`, so an exit intent still lands before its order. No progress for a
        whole step means locked or down: degraded, and the caller goes on without waiting."""
        waited = 0.0
        seen = self._worker.written
        while True:
            try:
                done = await asyncio.wait_for(asyncio.shield(waiter.future), self._commit_timeout)
            except TimeoutError:
                waited += self._commit_timeout
                progressed = self._worker.written != seen
                seen = self._worker.written
                if progressed and waited < self._slow_limit:
                    continue
                waiter.future.cancel()  # the worker's late answer is then ignored
                self._worker.enter_degraded(f"a write took longer than {waited:.1f}s")
                return False
            return bool(done)

    def _withdraw(self, batch: Batch) -> bool:
        """Neither the database nor the journal took `batch`: take it out of the queue, so
        the caller's "not stored" stays true (one being written may still land). Without a
        journal it stays queued for later, as it always did."""
        if self._journal is None:
            return False
        withdrawn = self._worker.take_back(batch)
        if withdrawn is None:
            return True  # written meanwhile
        if not withdrawn:
            log.critical(
                "commit %d: neither the database nor the journal took it; it was being written "
                "and may still land",
                batch.seq,
            )
        return False

    async def _journal_batch(self, batch: Batch, records: list[Record]) -> bool:
        """The database could not take `batch` now: make it durable in the journal (True)."""
        if self._journal is None:
            return False
        if self._worker.is_done(batch):
            return True
        return await self._journal.append(batch.seq, records)

    async def load(self) -> LoadedState:
        state, waiting = await self._call(lambda s: (rows.load(s), self._queued()))
        return queued.load(state, waiting)

    async def entry_trade(self, account: str, order_id: str) -> str | None:
        found = queued.entry_trade(self._queued(), account, order_id)
        if found is not None:
            return found
        return await self._call(lambda s: rows.entry_trade(s, account, order_id))

    async def exit_orders(self, trade_id: str) -> list[ExitOrderRecord]:
        """Every exit-order row of a trade (queued writes included), oldest first."""
        stored, waiting = await self._call(
            lambda s: (rows.exit_orders(s, trade_id), self._queued())
        )
        return queued.exit_orders(stored, waiting, trade_id)

    async def trade(self, trade_id: str) -> TradeRecord | None:
        newest, later = queued.trade(self._queued(), trade_id)
        record = newest or await self._call(lambda s: rows.trade(s, trade_id))
        for progress in later:
            if record is not None:
                record = progress.apply(record)
        return record

    async def history(
        self, account: str | None, limit: int, query: HistoryQuery | None = None
    ) -> list[TradeRecord]:
        stored, waiting = await self._call(
            lambda s: (rows.history(s, account, limit, query), self._queued())
        )
        return queued.history(stored, waiting, account, limit, query)

    async def audit_page(self, query: AuditQuery) -> list[AuditEntry]:
        """One page of an account's audit log, newest first (entries still queued for the
        database are not in it yet)."""
        return await self._call(lambda s: rows.audit_page(s, query))

    async def accounts(self) -> list[AccountRecord]:
        stored, waiting = await self._call(lambda s: (rows.accounts(s), self._queued()))
        return queued.accounts(stored, waiting)

    async def users(self) -> list[UserRecord]:
        stored, waiting = await self._call(lambda s: (rows.users(s), self._queued()))
        return queued.users(stored, waiting)

    async def audit_entries(
        self, subject: str | None = None, limit: int = 1000
    ) -> list[AuditRecord]:
        """The newest `limit` audit entries (of one subject, or all), oldest first; entries
        still queued come last."""
        stored, waiting = await self._call(
            lambda s: (rows.audit_entries(s, subject, limit), self._queued())
        )
        return queued.audit_entries(stored, waiting, subject, limit)

    async def close(self) -> None:
        """Flush what can be flushed (one attempt, ignoring the backoff), then stop the
        worker and dispose the engine."""
        if self._closed:
            return
        self._closed = True
        if self._checkpoints is not None:
            self._checkpoints.cancel()  # the worker stops its thread after a last checkpoint
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop, loop.create_future())
        self._worker.stop(waiter)
        self.handoff.kick()  # the last flush may be large: keep the worker going
        try:
            if self._worker.alive():
                try:
                    await asyncio.wait_for(waiter.future, self._close_timeout)
                except TimeoutError:
                    log.error("database worker did not stop within %ss", self._close_timeout)
                    return
            self._worker.join(timeout=1.0)
        finally:
            self.handoff.cancel()

    # --- helpers on the loop side ----------------------------------------------------------

    async def _call(self, fn: Callable[[Session], T], wait_limit: float | None = None) -> T:
        if self._closed:
            raise StoreClosed("the store is closed")
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop, loop.create_future())
        self._worker.submit(fn, waiter)
        self.handoff.kick()
        limit = self._read_timeout if wait_limit is None else wait_limit
        try:
            result = await asyncio.wait_for(waiter.future, limit)
        except TimeoutError:
            raise StoreUnavailable(f"the database did not answer within {limit}s") from None
        return result  # type: ignore[return-value]

    def _queued(self) -> list[Record]:
        return self._worker.queued()
