"""Adapters layer: WAL checkpoints for a SQLite file, on their own thread and connection.

SQLite checkpoints its write-ahead log inside whichever commit pushes the log past 1,000 pages,
and a checkpoint copies pages and syncs the file: ~10 ms on a slow disk, paid by an exit
intent that happens to be that commit (it was the whole p99 of tick -> exit order). The store
turns automatic checkpoints off for its connections and this thread runs a PASSIVE checkpoint
every `interval` seconds instead (PASSIVE never waits for, nor blocks, the writer).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

log = logging.getLogger("tradeguard.db")


class WalCheckpointer:
    """Checkpoints `engine`'s SQLite WAL every `interval` seconds until `stop`."""

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="tradeguard-db-checkpoint", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint (the log is small when the store closes)."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.checkpoint()
        self.checkpoint()

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
