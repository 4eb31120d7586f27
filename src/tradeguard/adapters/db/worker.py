"""Adapters layer: DbWorker, the one thread that does all of SqlStore's database work.

Each round it runs the reads the event loop handed over, then writes one chunk of the queued
batches (pending.PendingQueue) in one transaction. An outage (errors.is_outage) puts the
chunk back, turns the store `degraded` and retries with a doubling backoff; once the queue is
empty again the store is healthy. A chunk the database refuses is taken apart until the one
batch it refuses is found; records the writer isolates are kept in `refusals` and audited.
The loop side talks to it only through its methods; all shared state is guarded by `cond`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradeguard.adapters.db.checkpoint import WalCheckpointer
from tradeguard.adapters.db.durable import JournalKeeper, Refusals, first_line
from tradeguard.adapters.db.errors import StoreClosed, StoreUnavailable, is_outage
from tradeguard.adapters.db.handoff import Heartbeat
from tradeguard.adapters.db.pending import Batch, PendingQueue, Waiter
from tradeguard.adapters.db.writer import Refused, RowWriter
from tradeguard.app.records import Record

log = logging.getLogger("tradeguard.db")


class DbWorker:
    """The database worker thread and the write queue it drains. Call `start()` once."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_pending: int,
        chunk_records: int,
        retry_initial: float,
        retry_max: float,
        journal: JournalKeeper | None,
        checkpoints: WalCheckpointer | None,
    ) -> None:
        self._engine = engine
        self._journal = journal
        self._checkpoints = checkpoints
        self._chunk = chunk_records
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self.cond = threading.Condition()
        self.queue = PendingQueue(max_pending)
        self.refusals = Refusals()
        self.heartbeat = Heartbeat()
        self.writer = RowWriter(engine)  # used on the worker thread only
        self.seq = 0  # the last commit's sequence number (journal order)
        self.degraded = False
        self.written = 0  # transactions committed: progress, to tell "slow" from "down"
        self.backoff = retry_initial
        self._inflight: list[Batch] = []
        self._jobs: deque[tuple[Callable[[Session], Any], Waiter]] = deque()
        self._exit_waiters: list[Waiter] = []
        self._replayed = 0
        self._next_attempt = 0.0
        self._isolate = 0  # take single batches to find one the database refuses
        self._stopping = False
        self._gave_up = False
        self._thread = threading.Thread(target=self._run, name="tradeguard-db", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # --- called on the loop side -----------------------------------------------------------

    def push(self, records: list[Record], waiter: Waiter) -> tuple[Batch, bool]:
        """Queue one commit; returns its batch and whether the store was degraded."""
        with self.cond:
            degraded = self.degraded
            self.seq += 1
            batch = Batch(records, waiter, seq=self.seq)
            self.queue.push(batch)
            self.heartbeat.beat()
            self.cond.notify()
        return batch, degraded

    def push_replay(self, batches: list[Batch], seq: int) -> None:
        """Queue the journal's batches ahead of any new write; later commits number after `seq`."""
        with self.cond:
            self.seq = max(self.seq, seq)
            for batch in batches:
                self.queue.push(batch)
            self.heartbeat.beat()
            self.cond.notify()

    def submit(self, fn: Callable[[Session], Any], waiter: Waiter) -> None:
        """Run `fn` with a session on the worker thread; its result resolves `waiter`."""
        with self.cond:
            self._jobs.append((fn, waiter))
            self.heartbeat.beat()
            self.cond.notify()

    def is_done(self, batch: Batch) -> bool:
        with self.cond:
            return batch.done

    def take_back(self, batch: Batch) -> bool | None:
        """Take `batch` out of the queue: True if taken, False if it is being written, None
        if it is written already."""
        with self.cond:
            if batch.done:
                return None
            return self.queue.remove(batch)

    def stop(self, waiter: Waiter) -> None:
        """Flush what can be flushed (one attempt, ignoring the backoff), then end the thread;
        `waiter` resolves once it has."""
        with self.cond:
            self._stopping = True
            self.heartbeat.beat()
            self._exit_waiters.append(waiter)
            self.cond.notify()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout=timeout)

    @property
    def pending(self) -> int:
        """Records accepted and not yet in the database."""
        with self.cond:
            return len(self.queue) + sum(len(b.records) for b in self._inflight)

    def queued(self) -> list[Record]:
        """Every record not yet committed, oldest first (only the worker removes records)."""
        with self.cond:
            inflight = [r for b in self._inflight for r in b.records]
            return inflight + list(self.queue.records())

    def refused_view(self) -> dict[str, Any]:
        with self.cond:
            return self.refusals.view()

    def enter_degraded(self, reason: str) -> None:
        with self.cond:
            if not self.degraded:
                self.degraded = True
                self._replayed = 0
                log.warning(
                    "database degraded: %s; queuing writes (%d pending)", reason, self.pending
                )

    # --- the worker thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                try:
                    if not self._step():
                        return
                except Exception:  # a bug here must not silently end every later write
                    log.exception("database worker error; continuing")
                    with self.cond:
                        self.cond.wait(0.1)
        finally:
            self._shutdown()

    def _step(self) -> bool:
        """One round: run waiting reads, then write one chunk if due. False: stop."""
        with self.cond:
            while True:
                jobs = list(self._jobs)
                self._jobs.clear()
                now = time.monotonic()
                can_write = bool(self.queue) and not self._gave_up
                write_due = can_write and (self._stopping or now >= self._next_attempt)
                if jobs or write_due:
                    break
                if self._stopping:
                    return False
                self.heartbeat.beat(busy=False)
                self.cond.wait(self._next_attempt - now if can_write else None)
            self.heartbeat.beat()
            chunk: list[Batch] = []
            if write_due:
                chunk = self.queue.take(0 if self._isolate else self._chunk)
                self._isolate = max(0, self._isolate - 1)
                self._inflight = chunk
        for fn, waiter in jobs:
            self._run_job(fn, waiter)
            self.heartbeat.beat()
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
            refused = self.writer.write(records, mark)
            self.heartbeat.beat()
        except Exception as error:
            self._write_failed(chunk, records, error)
            return
        if refused:
            self._refused(refused)
        with self.cond:
            for batch in chunk:
                batch.done = True
            self._inflight = []
            self.written += 1
            self.backoff = self._retry_initial
            self._next_attempt = 0.0
            if self.degraded:
                self._replayed += len(records)
                if not self.queue:
                    self.degraded = False
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
        with self.cond:
            self.refusals.keep(refused)
            if audits:
                self.seq += 1
                self.queue.push(Batch(audits, None, seq=self.seq))

    def _write_failed(self, chunk: list[Batch], records: list[Record], error: Exception) -> None:
        if is_outage(error):
            with self.cond:
                self._inflight = []
                self.queue.put_back(chunk)
                self.enter_degraded(f"{type(error).__name__}: {first_line(error)}")
                self._next_attempt = time.monotonic() + self.backoff
                self.backoff = min(self.backoff * 2, self._retry_max)
                if self._stopping:
                    self._gave_up = True
            for batch in chunk:
                if batch.waiter is not None:
                    batch.waiter.resolve(False)
                    batch.waiter = None
            return
        if len(chunk) > 1:  # find the one batch the database refuses, write the others
            with self.cond:
                self._inflight = []
                self.queue.put_back(chunk)
                self._isolate = len(chunk)
            return
        log.critical("the database refused a write; dropping it: %s; records: %r", error, records)
        with self.cond:
            self._inflight = []
            if self.degraded and not self.queue:
                self.degraded = False
                log.warning("database recovered: %d queued records replayed", self._replayed)
        if chunk[0].waiter is not None:
            chunk[0].waiter.resolve(error=error)

    def _shutdown(self) -> None:
        try:
            if self._checkpoints is not None:
                self._checkpoints.stop()
            lost = self.pending
            if lost and self._journal is not None and not self._journal.empty:
                log.critical(
                    "database closed with %d records not written; the journal %s keeps what "
                    "was acknowledged, replayed at the next start",
                    lost,
                    self._journal.path,
                )
            elif lost:
                log.critical("database closed with %d records not written", lost)
            self.writer.close()
            self._engine.dispose()
        finally:
            if self._journal is not None:
                self._journal.close()
            with self.cond:
                self.heartbeat.beat(busy=False)
                waiters, self._exit_waiters = self._exit_waiters, []
                jobs = list(self._jobs)
                self._jobs.clear()
            for _, waiter in jobs:
                waiter.resolve(error=StoreClosed("the store is closed"))
            for waiter in waiters:
                waiter.resolve(None)
