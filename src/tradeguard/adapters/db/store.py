"""Adapters layer: SqlStore, the app's Store port on SQLAlchemy (SQLite or PostgreSQL).

All database work runs on one dedicated worker thread with plain sync sessions; the event loop
only hands work over and waits on futures, never on the database. Writes go through one FIFO
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
import threading
import time
from collections import deque
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
    Refusals,
    RefusedRecord,
    first_line,
    replay_batches,
)
from tradeguard.adapters.db.errors import StoreClosed, StoreUnavailable, is_outage
from tradeguard.adapters.db.handoff import Heartbeat, LockHandoff
from tradeguard.adapters.db.migrate import upgrade_connection
from tradeguard.adapters.db.pending import Batch, PendingQueue, Waiter
from tradeguard.adapters.db.writer import Refused, RowWriter
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
        self._seq = 0  # the last commit's sequence number (journal order)
        self.refusals = Refusals()
        self._engine = create_engine(
            self.url, busy_timeout_ms=busy_timeout_ms, wal_autocheckpoint=False
        )
        self._checkpoints: WalCheckpointer | None = None
        if sqlite_file(self.url) is not None:
            self._checkpoints = WalCheckpointer(self._engine, checkpoint_interval)
        self._commit_timeout = commit_timeout
        self._slow_limit = slow_limit
        self._read_timeout = read_timeout
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._chunk = chunk_records
        self._close_timeout = close_timeout
        self._cond = threading.Condition()
        self._queue = PendingQueue(max_pending)
        self._inflight: list[Batch] = []
        self._jobs: deque[tuple[Callable[[Session], Any], Waiter]] = deque()
        self._exit_waiters: list[Waiter] = []
        self._degraded = False
        self._replayed = 0
        self._written = 0  # transactions committed: progress, to tell "slow" from "down"
        self._backoff = retry_initial
        self._next_attempt = 0.0
        self._isolate = 0  # take single batches to find one the database refuses
        self._stopping = False
        self._gave_up = False
        self._closed = False
        self._writer = RowWriter(self._engine)  # used on the worker thread only
        self._heartbeat = Heartbeat()
        self.handoff = LockHandoff(self._heartbeat)
        self._thread = threading.Thread(target=self._run, name="tradeguard-db", daemon=True)
        self._thread.start()

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
        with self._cond:
            self._seq = max(self._seq, mark, journal.last_seq)
            for batch in batches:
                self._queue.push(batch)
            self._heartbeat.beat()
            self._cond.notify()
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
        return self._degraded

    @property
    def journal_path(self) -> Path | None:
        return None if self._journal is None else self._journal.path

    @property
    def journaled(self) -> bool:
        """True while the journal holds records the database may not have yet."""
        return self._journal is not None and not self._journal.empty

    def refused_view(self) -> dict[str, Any]:
        """Records the database refused (count since start, the newest with detail)."""
        with self._cond:
            return self.refusals.view()

    @property
    def pending(self) -> int:
        """Records accepted by `commit` and not yet in the database."""
        with self._cond:
            return len(self._queue) + sum(len(b.records) for b in self._inflight)

    async def commit(self, records: Sequence[Record]) -> bool:
        if self._closed:
            raise StoreClosed("the store is closed")
        batch_records = list(records)
        if not batch_records:
            return True
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop, loop.create_future())
        with self._cond:
            degraded = self._degraded
            self._seq += 1
            batch = Batch(batch_records, waiter, seq=self._seq)
            self._queue.push(batch)
            self._heartbeat.beat()
            self._cond.notify()
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
        return await self._withdraw(batch)

    async def _wait_written(self, waiter: Waiter) -> bool:
        """Wait for the worker to commit the batch of `waiter`: False on an outage.

        Wait in steps of commit_timeout. While the worker keeps committing (a busy database,
        or this batch queued behind a flush) the store is slow, not down: keep waiting, up
        to `slow_limit`, so an exit intent still lands before its order. No progress for a
        whole step means locked or down: degraded, and the caller goes on without waiting."""
        waited = 0.0
        seen = self._written
        while True:
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result and
                # drops a cancellation that lands as the batch commits (a Ctrl+C at start-up
                # then left the demo trader running: the caller's stop must always win)
                async with asyncio.timeout(self._commit_timeout):
                    done = await asyncio.shield(waiter.future)
            except TimeoutError:
                waited += self._commit_timeout
                progressed = self._written != seen
                seen = self._written
                if progressed and waited < self._slow_limit:
                    continue
                waiter.future.cancel()  # the worker's late answer is then ignored
                with self._cond:
                    self._enter_degraded(f"a write took longer than {waited:.1f}s")
                return False
            return bool(done)

    async def _withdraw(self, batch: Batch) -> bool:
        """Neither the database nor the journal took `batch`: take it back, so the caller's
        "not stored" (a 503) is true and stays true. Queued: it is removed. Being written at
        this moment: that attempt decides (it is bounded by the driver's own timeouts: SQLite's
        busy timeout, PostgreSQL's connect and TCP timeouts). Written: True after all; failed:
        the batch is not put back, False; refused: the refusal is raised, as to any caller
        that waited. Without a journal it stays queued for later, as it always did (False:
        not durable)."""
        if self._journal is None:
            return False
        loop = asyncio.get_running_loop()
        with self._cond:
            if batch.done:
                return True
            batch.withdrawn = True
            if self._queue.remove(batch):
                return False
            if not any(b is batch for b in self._inflight):
                return False  # dropped from the full queue (its waiter said False)
            outcome = Waiter(loop, loop.create_future())
            batch.waiter = outcome  # the worker answers it once this attempt ends
        log.warning("commit %d: being written while withdrawn; waiting for that attempt", batch.seq)
        return bool(await outcome.future)  # a refusal raises, as to a caller that waited

    async def _journal_batch(self, batch: Batch, records: list[Record]) -> bool:
        """The database could not take `batch` now: make it durable in the journal (True)."""
        if self._journal is None:
            return False
        with self._cond:
            if batch.done:
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
        with self._cond:
            self._stopping = True
            self._heartbeat.beat()
            self._exit_waiters.append(waiter)
            self._cond.notify()
        self.handoff.kick()  # the last flush may be large: keep the worker going
        try:
            if self._thread.is_alive():
                try:
                    async with asyncio.timeout(self._close_timeout):
                        await waiter.future
                except TimeoutError:
                    log.error("database worker did not stop within %ss", self._close_timeout)
                    return
            self._thread.join(timeout=1.0)
        finally:
            self.handoff.cancel()

    # --- helpers on the loop side ----------------------------------------------------------

    async def _call(self, fn: Callable[[Session], T], wait_limit: float | None = None) -> T:
        if self._closed:
            raise StoreClosed("the store is closed")
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop, loop.create_future())
        with self._cond:
            self._jobs.append((fn, waiter))
            self._heartbeat.beat()
            self._cond.notify()
        self.handoff.kick()
        limit = self._read_timeout if wait_limit is None else wait_limit
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
        # arrives as the worker answers (the caller's task then runs on; a dashboard publisher
        # cancelled that way kept an api test's teardown waiting for minutes)
        try:
            async with asyncio.timeout(limit):
                result = await waiter.future
        except TimeoutError:
            raise StoreUnavailable(f"the database did not answer within {limit}s") from None
        return result  # type: ignore[return-value]

    def _queued(self) -> list[Record]:
        """Every record not yet committed, oldest first (caller holds the lock, or is the
        worker: only the worker removes records)."""
        with self._cond:
            inflight = [r for b in self._inflight for r in b.records]
            return inflight + list(self._queue.records())

    def _enter_degraded(self, reason: str) -> None:
        if not self._degraded:
            self._degraded = True
            self._replayed = 0
            log.warning("database degraded: %s; queuing writes (%d pending)", reason, self.pending)

    # --- the worker thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                try:
                    if not self._step():
                        return
                except Exception:  # a bug here must not silently end every later write
                    log.exception("database worker error; continuing")
                    with self._cond:
                        self._cond.wait(0.1)
        finally:
            self._shutdown()

    def _step(self) -> bool:
        """One round: run waiting reads, then write one chunk if due. False: stop."""
        with self._cond:
            while True:
                jobs = list(self._jobs)
                self._jobs.clear()
                now = time.monotonic()
                can_write = bool(self._queue) and not self._gave_up
                write_due = can_write and (self._stopping or now >= self._next_attempt)
                if jobs or write_due:
                    break
                if self._stopping:
                    return False
                self._heartbeat.beat(busy=False)
                self._cond.wait(self._next_attempt - now if can_write else None)
            self._heartbeat.beat()
            chunk: list[Batch] = []
            if write_due:
                chunk = self._queue.take(0 if self._isolate else self._chunk)
                self._isolate = max(0, self._isolate - 1)
                self._inflight = chunk
        for fn, waiter in jobs:
            self._run_job(fn, waiter)
            self._heartbeat.beat()
        if chunk:
            self._write(chunk)
        return True

    def _run_job(self, fn: Callable[[Session], Any], waiter: Waiter) -> None:
        if waiter.future.cancelled():
            return
        try:
            with Session(self._engine) as session:
                result = fn(session)
        except Exception as error:
            if is_outage(error):
                waiter.resolve(error=StoreUnavailable(f"database unavailable: {error}"))
            else:
                waiter.resolve(error=error)
            return
        waiter.resolve(result)

    def _write(self, chunk: list[Batch]) -> None:
        records = [r for b in chunk for r in b.records]
        mark = max(b.seq for b in chunk) if self._journal is not None else None
        try:
            refused = self._writer.write(records, mark)
            self._heartbeat.beat()
        except Exception as error:
            self._write_failed(chunk, records, error)
            return
        if refused:
            self._refused(refused)
        with self._cond:
            for batch in chunk:
                batch.done = True
            self._inflight = []
            self._written += 1
            self._backoff = self._retry_initial
            self._next_attempt = 0.0
            if self._degraded:
                self._replayed += len(records)
                if not self._queue:
                    self._degraded = False
                    log.warning("database recovered: %d queued records replayed", self._replayed)
        for batch in chunk:
            if batch.waiter is not None:
                failed = next((e for r, e in refused if any(r is x for x in batch.records)), None)
                if failed is None:
                    batch.waiter.resolve(True)
                else:
                    batch.waiter.resolve(error=failed)
        if self._journal is not None and mark is not None:
            self._journal.clear_upto(mark)

    def _refused(self, refused: Refused) -> None:
        """Keep each refused record visible, log it at CRITICAL and audit it (the rest of its
        batch was written)."""
        audits = self.refusals.note(refused, time.time_ns())
        with self._cond:
            self.refusals.keep(refused)
            if audits:
                self._seq += 1
                self._queue.push(Batch(audits, None, seq=self._seq))

    def _write_failed(self, chunk: list[Batch], records: list[Record], error: Exception) -> None:
        if is_outage(error):
            with self._cond:
                self._inflight = []
                self._queue.put_back(chunk)
                self._enter_degraded(f"{type(error).__name__}: {first_line(error)}")
                self._next_attempt = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, self._retry_max)
                if self._stopping:
                    self._gave_up = True
            for batch in chunk:
                if batch.waiter is not None:
                    batch.waiter.resolve(False)
                    batch.waiter = None
            return
        if len(chunk) > 1:  # find the one batch the database refuses, write the others
            with self._cond:
                self._inflight = []
                self._queue.put_back(chunk)
                self._isolate = len(chunk)
            for batch in chunk:
                if batch.withdrawn and batch.waiter is not None:
                    batch.waiter.resolve(False)  # not put back: its caller hears "not stored"
            return
        log.critical("the database refused a write; dropping it: %s; records: %r", error, records)
        with self._cond:
            self._inflight = []
            if self._degraded and not self._queue:
                self._degraded = False
                log.warning("database recovered: %d queued records replayed", self._replayed)
        if chunk[0].waiter is not None:
            chunk[0].waiter.resolve(error=error)

    def _shutdown(self) -> None:
        try:
            if self._checkpoints is not None:
                self._checkpoints.stop()
            lost = self.pending
            if lost and self.journaled:
                log.critical(
                    "database closed with %d records not written; the journal %s keeps what "
                    "was acknowledged, replayed at the next start",
                    lost,
                    self.journal_path,
                )
            elif lost:
                log.critical("database closed with %d records not written", lost)
            self._writer.close()
            self._engine.dispose()
        finally:
            if self._journal is not None:
                self._journal.close()
            with self._cond:
                self._heartbeat.beat(busy=False)
                waiters, self._exit_waiters = self._exit_waiters, []
                jobs = list(self._jobs)
                self._jobs.clear()
            for _, waiter in jobs:
                waiter.resolve(error=StoreClosed("the store is closed"))
            for waiter in waiters:
                waiter.resolve(None)
