"""Adapters layer: WAL checkpoints for a SQLite file, on their own thread and connection,
timed by the event loop.

SQLite checkpoints its write-ahead log inside whichever commit pushes the log past 1,000 pages,
and a checkpoint copies pages and syncs the file: ~10 ms on a slow disk, paid by an exit
intent that happens to be that commit (it was the whole p99 of tick -> exit order). The store
turns automatic checkpoints off for its connections and this thread runs a PASSIVE checkpoint
every `interval` seconds instead (PASSIVE never waits for, nor blocks, the writer).

The event loop, not the thread, keeps the time. A thread that woke by itself each interval
would then wait for the interpreter lock, and a saturated loop never lets go of it for long
(handoff.py): the thread starved, so no checkpoint ran, and the loop paid a futex wake-up for
the waiting thread on every iteration, 4-5 % of the tick rate. The loop's timer wakes the
thread and arms a `LockHandoff` for it, so the loop steps aside when the thread has waited
for the lock too long, and never otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy.engine import Engine

from tradeguard.adapters.db.handoff import Heartbeat, LockHandoff

log = logging.getLogger("tradeguard.db")


class WalCheckpointer:
    """Checkpoints `engine`'s SQLite WAL every `interval` seconds from `start` (on the event
    loop) until `cancel` (on the loop) and `stop` (from any thread)."""

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self.runs = 0
        self.failures = 0
        self.heartbeat = Heartbeat()
        self.handoff = LockHandoff(self.heartbeat)
        self._due = threading.Event()
        self._stopping = False
        self._timer: asyncio.TimerHandle | None = None
        self._thread = threading.Thread(
            target=self._loop, name="tradeguard-db-checkpoint", daemon=True
        )

    def start(self) -> None:
        """On the event loop: start the thread and the loop-side timer."""
        self._thread.start()
        self._arm()

    def cancel(self) -> None:
        """On the event loop: no more checkpoints are asked for (the store is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.handoff.cancel()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint (the log is small when the store closes)."""
        if self._thread.is_alive():
            self._stopping = True
            self._due.set()
            self._thread.join(timeout=5.0)

    def checkpoint(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as error:  # down or locked: the store reports outages, retry later
            self.failures += 1
            log.debug("WAL checkpoint skipped: %s", error)
            return False
        self.runs += 1
        return True

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._ask)

    def _ask(self) -> None:
        """The loop's timer: wake the thread unless its last checkpoint is still running."""
        if not self._thread.is_alive():
            self._timer = None
            return
        if not self.heartbeat.busy:
            self.heartbeat.beat(busy=True)  # "waiting for the lock since now"
            self._due.set()
            self.handoff.kick()
        self._arm()

    def _loop(self) -> None:
        while True:
            self._due.wait()
            self.heartbeat.beat()  # it has the lock: the handoff's wait starts again
            self._due.clear()
            stopping = self._stopping
            self.checkpoint()
            self.heartbeat.beat(busy=False)
            if stopping:
                return
